import { backoffDelayMs } from '../backoff.js';
import type { KimlikError } from '../errors.js';
import { arrayEventBuffer } from './array-event-buffer.js';
import { type Batch, outgoingBatch } from './batch.js';
import { DropReport } from './drop-report.js';
import type { DeliveryPorts, DeliveryStats, FlushResult, StopResult } from './engine-types.js';
import { DELIVERY_ERROR_CODES, DeliveryError, type DeliveryErrorCode } from './errors.js';
import { type BuiltBatch, type EventBuffer, type EventRun, idsOf, matchRejections } from './event-buffer.js';
import { asTransportError, shouldRetry, shouldSplit } from './failure-policy.js';
import { isPromise } from './is-promise.js';
import { MemoryStorage } from './memory-storage.js';
import type { ResolvedDeliveryOptions } from './options.js';
import type { Receipts } from './outcome-book.js';
import {
  globalScheduler,
  type Overflow,
  type QueueStorage,
  type Scheduler,
  type Transport,
  type TransportResult,
} from './ports.js';
import { roomLeft } from './queue-bound.js';
import { firstQueuedSeq, headSeq, isUnsettled } from './unsettled-events.js';

type Counters = Omit<DeliveryStats, 'queued' | 'inFlight'>;

interface FlushWaiter {
  target: number;
  resolve: (result: FlushResult) => void;
  timer: unknown;
}

/**
 * The delivery engine: a bounded queue, a batcher (count / bytes / time), concurrent requests,
 * retries with exponential backoff and jitter, per-event rejections, per-event receipts, a paging
 * storage, and `flush()`. Platform-free; storage, transport and timers are ports. An event belongs
 * to at most one batch at a time, so it is never in two concurrent requests; a batch that fails is
 * retried as the same batch. The Node SDK runs it; the browser SDK has a smaller queue of its own
 * (sdk-web/src/send-queue.ts) built from the same backoff, failure policy and body format.
 *
 * Memory: queued events live in the `EventBuffer` port (packed bytes in the Node SDK, an array by
 * default); the engine holds no JS object per event beyond what the buffer keeps.
 */
export class DeliveryEngine<Receipt = void> {
  readonly #options: ResolvedDeliveryOptions;
  readonly #transport: Transport;
  readonly #storage: QueueStorage;
  readonly #scheduler: Scheduler;
  /** The backoff's jitter source (tests pin it); `Math.random` when unset. */
  readonly #random: (() => number) | undefined;
  readonly #onError: (error: KimlikError) => void;
  readonly #onWarn: (message: string, error?: KimlikError) => void;
  readonly #queue: EventBuffer;
  /** Batches sending or waiting for a retry; at most `maxConcurrentRequests` plus splits. */
  readonly #batches = new Set<Batch>();
  #inFlightEvents = 0;
  #inFlightBytes = 0;
  /** Events on storage only (memory was full), when the storage pages (the Node spool). */
  readonly #overflow: Overflow | undefined;
  #activeRequests = 0;
  #seq = 0;
  /** Queued events up to this seq are sent even as a partial batch (interval fired or flush asked). */
  #drainTarget = -Infinity;
  /** The newest seq whose receipt was awaited since the last prompt send, or -Infinity when none is due. */
  #awaitedTarget = -Infinity;
  #intervalTimer: unknown;
  #retryTimer: unknown;
  #retryTimerKeepsAlive = false;
  /** Callers awaiting delivery other than by `flush()` (`hold()`), e.g. an awaited receipt. */
  #holds = 0;
  #pausedUntil = 0;
  #consecutiveFailures = 0;
  readonly #waiters: FlushWaiter[] = [];
  /** Events whose storage write failed (a full disk): memory holds them, the storage does not. */
  readonly #unstored = new Set<string>();
  /** Per-event outcomes, when the caller wants them (the Node SDK's `track()` promises). */
  readonly #receipts: Receipts<Receipt> | undefined;
  #loading = false;
  #stopped = false;
  readonly #stats: Counters = { enqueued: 0, delivered: 0, rejected: 0, dropped: 0, retries: 0 };
  readonly #drops: DropReport;

  constructor(options: ResolvedDeliveryOptions, ports: DeliveryPorts<Receipt>) {
    this.#options = options;
    this.#transport = ports.transport;
    this.#storage = ports.storage ?? new MemoryStorage();
    this.#scheduler = ports.scheduler ?? globalScheduler;
    this.#onError = ports.onError ?? (() => undefined);
    this.#queue = (ports.events ?? arrayEventBuffer)({ ...options, bodyFields: ports.bodyFields });
    this.#random = ports.random;
    this.#onWarn = ports.onWarn || (() => undefined);
    this.#receipts = ports.receipts?.({
      isUnsettled: (seq) => isUnsettled(seq, this.#seq, this.#queue, this.#overflow, this.#batches),
      awaited: (seq) => this.#sendSoon(seq),
    });
    this.#overflow = this.#storage.overflow?.();
    this.#drops = new DropReport(this.#scheduler, (error) => this.#report(error));
  }

  /**
   * Restores events an earlier process left in storage, ahead of anything enqueued since.
   * Synchronous storages restore before this returns; call it once, before or right after
   * the first `enqueue()`.
   */
  start(): Promise<number> {
    const backlog = this.#overflow?.start() ?? 0;
    if (backlog > 0) {
      // Numbered up to 0 and paged in like spilled events.
      this.#stats.enqueued += backlog;
      this.#drainTarget = Math.max(this.#drainTarget, 0);
      this.#pump();
      return Promise.resolve(backlog);
    }
    const loaded = this.#store('load', [], (s) => s.load());
    if (!isPromise(loaded)) return Promise.resolve(this.#restore(loaded ?? []));
    this.#loading = true;
    return loaded.then((events) => {
      this.#loading = false;
      const n = this.#restore(events ?? []);
      this.#pump();
      return n;
    });
  }

  #restore(persisted: readonly { messageId: string; json: string }[]): number {
    if (persisted.length === 0) return 0;
    // Seqs below every seq handed out so far, so flush targets include the restored events.
    const first = Math.min(0, headSeq(this.#queue)) - persisted.length;
    this.#queue.restore(persisted, first);
    this.#stats.enqueued += persisted.length;
    this.#dropOverflow(0, 0);
    this.#drainTarget = Math.max(this.#drainTarget, first + persisted.length - 1);
    this.#pump();
    return persisted.length;
  }

  /**
   * Queues one serialized event (`json` = `JSON.stringify` of the WireEvent, which must carry
   * `messageId`). Persists it through the storage port first. Returns the event's receipt
   * when the `receipts` port is set (`outcomeBook`: a lazy promise that never rejects).
   */
  enqueue(messageId: string, json: string): Receipt {
    this.#stats.enqueued++;
    if (this.#stopped) return this.#refuse(messageId, DELIVERY_ERROR_CODES.STOPPED, 'the client is stopped');
    const bytes = this.#queue.stage(messageId, json);
    if (bytes > this.#options.maxEventBytes) {
      return this.#refuse(
        messageId,
        DELIVERY_ERROR_CODES.INVALID_EVENT,
        `event of ${bytes} bytes is over maxEventBytes (${this.#options.maxEventBytes})`,
      );
    }
    const overflow = this.#overflow;
    // Memory is full (or older events still wait on storage): the event waits on storage only.
    const spilled = overflow?.offer(
      messageId,
      json,
      roomLeft(this.#options, this.#queue, this.#inFlightEvents, this.#inFlightBytes, 1, bytes) < 0,
      this.#seq + 1,
    );
    if (spilled) {
      const seq = ++this.#seq;
      // The first one starts sending what memory holds.
      if (overflow?.count === 1) this.#pump();
      return this.#receipts?.queued(seq, messageId) as Receipt;
    }
    if (spilled === false || !this.#dropOverflow(1, bytes)) {
      this.#stats.dropped++;
      const error = this.#drops.dropped(1, () => messageId, 'queue full: newest event dropped');
      return this.#receipts?.refused(messageId, error) as Receipt;
    }
    void this.#store('append', [messageId], (s) => s.append(messageId, json));
    const seq = ++this.#seq;
    this.#queue.push(seq);
    if (this.#queue.length >= this.#options.flushAt) this.#pump();
    else if (this.#intervalTimer === undefined) this.#armInterval();
    return this.#receipts?.queued(seq, messageId) as Receipt;
  }

  /** Resolves once everything enqueued so far is acknowledged or failed for good (or at `timeoutMs`). */
  flush(options: { timeoutMs?: number } = {}): Promise<FlushResult> {
    const target = this.#seq;
    if (this.#oldestUnsettledSeq() > target) return Promise.resolve({ pending: 0, timedOut: false });
    this.#drainTarget = Math.max(this.#drainTarget, target);
    return new Promise<FlushResult>((resolve) => {
      const waiter: FlushWaiter = { target, resolve, timer: undefined };
      if (options.timeoutMs !== undefined) {
        waiter.timer = this.#scheduler.setTimeout(
          () => {
            const i = this.#waiters.indexOf(waiter);
            if (i >= 0) this.#waiters.splice(i, 1);
            // No one waits any more: a pending retry no longer holds the process (a serverless
            // handler's flush timed out, and a Retry-After of 20 s would keep it 20 s).
            this.#keepAliveChanged();
            this.#drops.tell();
            resolve({ pending: this.#countUnsettledUpTo(target), timedOut: true });
          },
          options.timeoutMs,
          true,
        );
      }
      this.#waiters.push(waiter);
      // Someone now awaits: a pending retry must keep the process alive until it runs.
      this.#keepAliveChanged();
      this.#pump();
    });
  }

  /**
   * Someone awaits delivery other than through `flush()` (the Node SDK: an awaited receipt):
   * until the returned release is called, pending retries keep the process alive, as for a flush.
   */
  hold(): () => void {
    this.#holds++;
    this.#keepAliveChanged();
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      this.#holds--;
      this.#keepAliveChanged();
    };
  }

  /**
   * The events not acknowledged yet, left as they are: the messageIds of those in a request or
   * waiting for a retry, then of those queued, oldest first; how many more wait on storage only
   * (their messageIds are not in memory); and how many of the named ones the storage never took.
   */
  unacknowledged(): { messageIds: string[]; onStorageOnly: number; unstored: number } {
    const runs = [...this.#batches].map((b) => b.events).filter((run) => run.length > 0);
    runs.sort((a, b) => a.seq(0) - b.seq(0));
    runs.push(this.#queue);
    const messageIds = runs.flatMap(idsOf);
    let unstored = 0;
    if (this.#unstored.size > 0) for (const id of messageIds) if (this.#unstored.has(id)) unstored++;
    return { messageIds, onStorageOnly: this.#overflow?.count ?? 0, unstored };
  }

  /**
   * Flushes for at most `timeoutMs`, then stops: timers cleared, storage closed, later
   * `enqueue()` calls fail with STOPPED. Unacknowledged events stay in persistent storage.
   */
  async stop(options: { timeoutMs?: number } = {}): Promise<StopResult> {
    const flushed = this.#stopped ? { pending: 0, timedOut: false } : await this.flush(options);
    this.#stopped = true;
    this.#drops.tell();
    this.#intervalTimer = this.#clear(this.#intervalTimer);
    this.#retryTimer = this.#clear(this.#retryTimer);
    const left = [...this.#batches].map((b) => b.events);
    left.push(this.#queue.shift(this.#queue.length));
    this.#batches.clear();
    this.#inFlightEvents = 0;
    this.#inFlightBytes = 0;
    const persistent = this.#storage.persistent;
    const overflow = this.#overflow;
    let count = overflow?.count ?? 0;
    for (const s of left) count += s.length;
    // Of those, the ones the storage never took are lost with the process, even with a spool.
    let unstored = 0;
    if (persistent && this.#unstored.size > 0)
      for (const s of left) for (const id of idsOf(s)) if (this.#unstored.has(id)) unstored++;
    this.#unstored.clear();
    if (count > 0) {
      this.#stats.dropped += persistent ? unstored : count;
      const error = new DeliveryError(
        DELIVERY_ERROR_CODES.STOPPED,
        `stopped: ${count} events unacknowledged, ${persistent ? `kept in storage${unstored ? `, except ${unstored} whose write failed (lost)` : ''}` : 'lost (no persistent storage)'}`,
        { messageIds: left.flatMap(idsOf) },
      );
      for (const s of left) settleFailed(this.#receipts, s, error);
      if (overflow) {
        for (let i = 0; i < overflow.count; i++) this.#receipts?.settle(overflow.head + i, () => '', error);
        overflow.count = 0;
      }
      this.#report(error);
    }
    await this.#store('close', [], (s) => s.close?.());
    for (const w of this.#waiters.splice(0)) this.#resolveWaiter(w);
    return {
      pending: flushed.pending,
      timedOut: flushed.timedOut,
      persisted: persistent ? count - unstored : 0,
      dropped: persistent ? unstored : count,
    };
  }

  /** Counters since construction, with what is queued and in flight now. */
  getStats(): DeliveryStats {
    return {
      ...this.#stats,
      queued: this.#queue.length + (this.#overflow?.count ?? 0),
      inFlight: this.#inFlightEvents,
    };
  }

  #refuse(messageId: string, code: DeliveryErrorCode, message: string): Receipt {
    const error = new DeliveryError(code, message, { messageIds: [messageId] });
    this.#report(error);
    return this.#receipts?.refused(messageId, error) as Receipt;
  }

  /**
   * Makes room for an incoming event under the queue-full policy. Returns false when the
   * incoming event itself must be dropped (everything queued is in flight, or backpressure's
   * hard bound of twice the limits is reached).
   */
  #dropOverflow(count: number, bytes: number): boolean {
    const o = this.#options;
    const factor = o.queueFullPolicy === 'backpressure' ? 2 : 1;
    const maxEvents = o.maxQueueEvents * factor;
    const maxBytes = o.maxQueueBytes * factor;
    const needEvents = this.#queue.length + this.#inFlightEvents + count - maxEvents;
    let needBytes = this.#queue.bytes + this.#inFlightBytes + bytes - maxBytes;
    if (needEvents <= 0 && needBytes <= 0) return true;
    if (o.queueFullPolicy === 'backpressure') return false;
    // The oldest events in no request go: those of batches the transport has not read (waiting
    // for a retry, or held by a transport that cannot send yet, e.g. offline), then queued ones,
    // which are newer (batches are taken from the queue's head). A batch in a request stays
    // whole: the collector may be storing it.
    const waiting = [...this.#batches]
      .filter((b) => !b.body && b.events.length > 0)
      .sort((a, b) => a.events.seq(0) - b.events.seq(0));
    let n = 0;
    for (const b of [...waiting, undefined]) {
      const events = b ? b.events : this.#queue;
      let k = 0;
      for (; k < events.length && (n < needEvents || needBytes > 0); n++) needBytes -= events.size(k++);
      if (k > 0) {
        this.#stats.dropped += k;
        const dropped = b ? this.#trim(b, k) : this.#queue.shift(k);
        const error = this.#drops.dropped(k, (i) => dropped.id(i), `queue full: dropped the ${k} oldest`);
        settleFailed(this.#receipts, dropped, error);
        this.#removeFromStorage(dropped);
      }
    }
    return n >= needEvents && needBytes <= 0;
  }

  /** Takes the `n` oldest events of a batch in no request. */
  #trim(batch: Batch, n: number): EventRun {
    const events = batch.events;
    this.#removeBatch(batch);
    batch.events = events.slice(n, events.length);
    // One the transport holds stays, even emptied: it takes queued events when read (see #send).
    if (batch.sending || batch.events.length > 0) this.#addBatch(batch);
    return events.slice(0, n);
  }

  /** Removes a batch from the queue's head: up to `maxBatchEvents` while their JSON (plus a comma each) fits `maxBatchBytes` with the envelope; at least one if any. */
  #take(): EventRun {
    const q = this.#queue;
    const maxEvents = this.#options.maxBatchEvents;
    const maxBytes = this.#options.maxBatchBytes - q.envelopeBytes;
    let n = 0;
    let size = 0;
    while (n < maxEvents && n < q.length) {
      size += q.size(n) + 1;
      if (n > 0 && size > maxBytes) break;
      n++;
    }
    return q.shift(n);
  }

  /**
   * Sends the queue (as the interval would) once this tick's awaits are in, without waiting for
   * `flushAt`: `await track()` in a loop paces on the round trip, not on `flushIntervalMs`, and a
   * burst awaited with `Promise.all` is one send.
   */
  #sendSoon(seq: number): void {
    const due = this.#awaitedTarget !== -Infinity;
    this.#awaitedTarget = Math.max(this.#awaitedTarget, seq);
    if (due) return;
    const send = () => {
      this.#drainTarget = Math.max(this.#drainTarget, this.#awaitedTarget);
      this.#awaitedTarget = -Infinity;
      this.#pump();
    };
    const s = this.#scheduler;
    if (s.soon) s.soon(send);
    else s.setTimeout(send, 0, false);
  }

  #armInterval(): void {
    this.#intervalTimer = this.#scheduler.setTimeout(
      () => {
        this.#intervalTimer = undefined;
        this.#drainTarget = Math.max(this.#drainTarget, this.#seq);
        this.#pump();
      },
      this.#options.flushIntervalMs,
      false,
    );
  }

  /** Whether someone awaits delivery: then a pending retry keeps the process alive. */
  #awaited(): boolean {
    return this.#waiters.length > 0 || this.#holds > 0;
  }

  /** Re-arms a pending retry whose timer no longer matches whether someone awaits. */
  #keepAliveChanged(): void {
    if (this.#retryTimer !== undefined && this.#retryTimerKeepsAlive !== this.#awaited()) this.#armRetry();
  }

  #armRetry(): void {
    this.#retryTimer = this.#clear(this.#retryTimer);
    const keepAlive = this.#awaited();
    this.#retryTimerKeepsAlive = keepAlive;
    this.#retryTimer = this.#scheduler.setTimeout(
      () => {
        this.#retryTimer = undefined;
        this.#pump();
      },
      Math.max(0, this.#pausedUntil - this.#scheduler.now()),
      keepAlive,
    );
  }

  /** Clears a timer handle; returns undefined to store back. */
  #clear(handle: unknown): undefined {
    if (handle !== undefined) this.#scheduler.clearTimeout(handle);
    return undefined;
  }

  /** Starts requests while there is capacity: batches awaiting a retry first, then new ones. */
  #pump(): void {
    if (this.#stopped || this.#loading) return;
    const overflow = this.#overflow;
    if (overflow) {
      // Events waiting on storage move back into memory, oldest first, while it has room.
      const q = this.#queue;
      const last = overflow.pageIn(
        q,
        roomLeft(this.#options, q, this.#inFlightEvents, this.#inFlightBytes, 0, 0),
        this.#options.maxQueueBytes - q.bytes - this.#inFlightBytes,
      );
      // Paged-in events waited already: they go out without waiting for flushAt or the interval.
      if (last !== undefined) this.#drainTarget = Math.max(this.#drainTarget, last);
    }
    if (this.#pausedUntil > this.#scheduler.now()) {
      if (this.#retryTimer === undefined) this.#armRetry();
      return;
    }
    const o = this.#options;
    while (this.#activeRequests < o.maxConcurrentRequests) {
      let batch: Batch | undefined;
      // The oldest first, so the halves of a split batch go in order (they join the set after others).
      for (const b of this.#batches) if (!b.sending && !(batch && batch.events.seq(0) < b.events.seq(0))) batch = b;
      if (!batch) {
        const queued = this.#queue.length;
        // Events waiting on storage mean memory is the bottleneck: send without waiting for flushAt.
        if (queued === 0 || (queued < o.flushAt && headSeq(this.#queue) > this.#drainTarget && !overflow?.count)) break;
        batch = { events: this.#take(), attempts: 0, sending: false };
        this.#addBatch(batch);
      }
      this.#send(batch);
    }
    if (this.#queue.length > 0 && this.#intervalTimer === undefined) this.#armInterval();
  }

  #addBatch(batch: Batch): void {
    this.#batches.add(batch);
    this.#inFlightEvents += batch.events.length;
    this.#inFlightBytes += batch.events.bytes;
  }

  #removeBatch(batch: Batch): void {
    this.#batches.delete(batch);
    this.#inFlightEvents -= batch.events.length;
    this.#inFlightBytes -= batch.events.bytes;
  }

  #send(batch: Batch): void {
    batch.sending = true;
    this.#activeRequests++;
    // Built when the transport first reads it, not now: a transport may wait to send, and until then the queue bound may take the batch's
    // oldest events. One that lost them all takes the oldest queued events instead; with none left,
    // reading it throws and nothing is sent.
    let made: BuiltBatch | undefined;
    const built = (): BuiltBatch => {
      if (!made) {
        if (!batch.events.length) {
          this.#removeBatch(batch);
          batch.events = this.#take();
          if (!batch.events.length) {
            this.#activeRequests--;
            throw new DeliveryError(DELIVERY_ERROR_CODES.QUEUE_FULL, 'queue full: batch dropped', { messageIds: [] });
          }
          batch.attempts = 0;
          this.#addBatch(batch);
        }
        made = this.#queue.body(batch.events, batch.attempts, new Date(this.#scheduler.now()).toISOString());
        batch.body = made;
      }
      return made;
    };
    let sending: Promise<TransportResult>;
    try {
      sending = this.#transport.send(outgoingBatch(batch.attempts, built));
    } catch (err) {
      sending = Promise.reject(err);
    }
    sending.then(
      (result) => this.#acknowledged(batch, result),
      (err: unknown) => this.#failed(batch, err),
    );
  }

  #finishRequest(batch: Batch): void {
    this.#activeRequests--;
    batch.sending = false;
    batch.body?.release?.();
    batch.body = undefined;
  }

  #acknowledged(batch: Batch, result: TransportResult): void {
    if (this.#stopped || !this.#batches.has(batch)) return;
    this.#finishRequest(batch);
    this.#removeBatch(batch);
    this.#consecutiveFailures = 0;
    const events = batch.events;
    const refused = matchRejections(events, result.rejected ?? []);
    for (let i = 0; i < events.length; i++) {
      const r = refused.get(i);
      if (!r) {
        this.#receipts?.settle(events.seq(i), () => events.id(i), undefined);
        continue;
      }
      const error = new DeliveryError(DELIVERY_ERROR_CODES.REJECTED, `collector rejected the event: ${r.reason}`, {
        messageIds: [events.id(i)],
        reason: r.code,
      });
      this.#receipts?.settle(events.seq(i), () => events.id(i), error);
      this.#report(error);
    }
    this.#stats.rejected += refused.size;
    this.#stats.delivered += events.length - refused.size;
    this.#removeFromStorage(events);
    this.#afterSettle();
  }

  #failed(batch: Batch, err: unknown): void {
    if (this.#stopped || !this.#batches.has(batch)) return;
    this.#finishRequest(batch);
    const error = asTransportError(err);
    if (shouldRetry(error, batch.attempts, this.#options.maxRetries)) {
      batch.attempts++;
      this.#stats.retries++;
      const delay = backoffDelayMs(this.#consecutiveFailures, this.#options.backoff, error.retryAfterMs, this.#random);
      if (this.#consecutiveFailures === 0) this.#onWarn(`delivery failed, retrying: ${error.message}`, error);
      this.#consecutiveFailures++;
      this.#pausedUntil = Math.max(this.#pausedUntil, this.#scheduler.now() + delay);
      this.#armRetry();
      return;
    }
    this.#removeBatch(batch);
    const events = batch.events;
    if (shouldSplit(error, events)) {
      const half = Math.ceil(events.length / 2);
      this.#addBatch({ events: events.slice(0, half), attempts: batch.attempts, sending: false });
      this.#addBatch({ events: events.slice(half, events.length), attempts: batch.attempts, sending: false });
      this.#pump();
      return;
    }
    const retryable = error.retryable;
    this.#stats[retryable ? 'dropped' : 'rejected'] += events.length;
    this.#fail(
      events,
      retryable ? DELIVERY_ERROR_CODES.RETRIES_EXHAUSTED : DELIVERY_ERROR_CODES.REJECTED,
      // The transport's message names the status.
      `${retryable ? `gave up after ${batch.attempts} retries` : 'collector refused the batch'}: ${error.message}`,
      error.status === undefined ? undefined : String(error.status),
      error,
    );
    this.#afterSettle();
  }

  /** Settles events as not delivered, forgets them in storage, reports once. */
  #fail(events: EventRun, code: DeliveryErrorCode, message: string, reason?: string, cause?: unknown): void {
    const error = new DeliveryError(code, message, { messageIds: idsOf(events), reason, cause });
    settleFailed(this.#receipts, events, error);
    this.#removeFromStorage(events);
    this.#report(error);
  }

  #report(error: KimlikError): void {
    try {
      this.#onError(error);
    } catch (err) {
      // A throwing onError must not break delivery; surface it as a warning instead.
      this.#onWarn(`onError threw: ${(err as Error)?.message ?? String(err)}`);
    }
  }

  #removeFromStorage(events: EventRun): void {
    // Memory storage keeps nothing; decoding the IDs would be wasted work.
    if (events.length === 0 || this.#storage instanceof MemoryStorage) return;
    const ids = idsOf(events);
    for (const id of ids) this.#unstored.delete(id);
    void this.#store('remove', ids, (s) => s.remove(ids));
  }

  /**
   * Calls the storage port, synchronously or not as the storage answers. A throw or rejection is
   * reported (the events stay in memory), never passed on: the result is undefined then.
   */
  #store<T>(
    operation: string,
    ids: readonly string[],
    call: (s: QueueStorage) => T | Promise<T>,
  ): T | undefined | Promise<T | undefined> {
    const failed = (err: unknown) => {
      if (operation === 'append') for (const id of ids) this.#unstored.add(id);
      this.#report(
        new DeliveryError(
          DELIVERY_ERROR_CODES.STORAGE,
          `storage ${operation} failed: ${(err as Error)?.message ?? String(err)}`,
          { messageIds: ids, cause: err },
        ),
      );
      return undefined;
    };
    try {
      const result = call(this.#storage);
      return isPromise(result) ? result.then(undefined, failed) : result;
    } catch (err) {
      return failed(err);
    }
  }

  #afterSettle(): void {
    if (this.#waiters.length > 0) {
      const oldest = this.#oldestUnsettledSeq();
      for (let i = this.#waiters.length - 1; i >= 0; i--) {
        const w = this.#waiters[i] as FlushWaiter;
        if (oldest > w.target) {
          this.#waiters.splice(i, 1);
          this.#resolveWaiter(w);
        }
      }
      this.#keepAliveChanged();
    }
    this.#pump();
  }

  /** Resolves a waiter whose events are all settled. */
  #resolveWaiter(w: FlushWaiter): void {
    if (w.timer !== undefined) this.#scheduler.clearTimeout(w.timer);
    // Whoever awaited the flush hears of the drops before it: nothing held back outlives it.
    this.#drops.tell();
    w.resolve({ pending: 0, timedOut: false });
  }

  #oldestUnsettledSeq(): number {
    let min = firstQueuedSeq(headSeq(this.#queue), this.#overflow);
    for (const b of this.#batches) if (b.events.length > 0) min = Math.min(min, b.events.seq(0));
    return min;
  }

  #countUnsettledUpTo(target: number): number {
    const overflow = this.#overflow;
    let n = overflow ? Math.max(0, Math.min(overflow.count, target - overflow.head + 1)) : 0;
    for (const run of [...this.#batches].map((b) => b.events).concat(this.#queue))
      for (let i = 0; i < run.length && run.seq(i) <= target; i++) n++;
    return n;
  }
}

/** Settles a run's receipts as failed (the Node SDK's receipts; a no-op without them). */
function settleFailed<R>(receipts: Receipts<R> | undefined, events: EventRun, error: KimlikError): void {
  if (receipts) for (let i = 0; i < events.length; i++) receipts.settle(events.seq(i), () => events.id(i), error);
}
