import { backoffDelayMs } from '../backoff.js';
import { type KimlikError, TransportError } from '../errors.js';
import { BatchBodyBuilder, matchRejections } from './batch-body.js';
import { ByteArena } from './byte-arena.js';
import type { DeliveryPorts, DeliveryStats, FlushResult, StopResult } from './engine-types.js';
import { DELIVERY_ERROR_CODES, DeliveryError } from './errors.js';
import { EventQueue, QueuedEvent } from './event-queue.js';
import { MemoryStorage } from './memory-storage.js';
import type { ResolvedDeliveryOptions } from './options.js';
import { globalScheduler, type QueueStorage, type Scheduler, type Transport, type TransportResult } from './ports.js';

interface Batch {
  events: QueuedEvent[];
  attempts: number;
  sending: boolean;
  /** The request body's buffer while a request is out; back to the pool once it settles. */
  buffer?: Uint8Array | undefined;
}

interface FlushWaiter {
  target: number;
  resolve: (result: FlushResult) => void;
  timer: unknown;
}

const STATUS_SPLITTABLE = new Set([400, 413, 422]);

/**
 * The shared delivery engine: a bounded queue, a batcher (count / bytes / time), retries with
 * exponential backoff and jitter, per-event rejections, and `flush()`. Platform-free; storage,
 * transport and timers are ports. An event belongs to at most one batch at a time, so it is
 * never in two concurrent requests; a batch that fails is retried as the same batch.
 */
export class DeliveryEngine {
  private readonly options: ResolvedDeliveryOptions;
  private readonly transport: Transport;
  private readonly storage: QueueStorage;
  private readonly scheduler: Scheduler;
  private readonly random: () => number;
  private readonly onError: (error: KimlikError) => void;
  private readonly onWarn: (message: string, error?: KimlikError) => void;
  private readonly queue = new EventQueue();
  private readonly arena: ByteArena;
  private readonly bodies: BatchBodyBuilder;
  /** Batches sending or waiting for a retry; at most `maxConcurrentRequests` plus splits. */
  private readonly batches = new Set<Batch>();
  private inFlightEvents = 0;
  private inFlightBytes = 0;
  private activeRequests = 0;
  private seq = 0;
  /** Queued events up to this seq are sent even as a partial batch (interval fired or flush asked). */
  private drainTarget = Number.NEGATIVE_INFINITY;
  private intervalTimer: unknown;
  private retryTimer: unknown;
  private retryTimerKeepsAlive = false;
  private pausedUntil = 0;
  private consecutiveFailures = 0;
  private readonly waiters: FlushWaiter[] = [];
  private loading = false;
  private stopped = false;
  private readonly stats = { enqueued: 0, delivered: 0, rejected: 0, dropped: 0, retries: 0 };

  constructor(options: ResolvedDeliveryOptions, ports: DeliveryPorts) {
    this.options = options;
    this.transport = ports.transport;
    this.storage = ports.storage ?? new MemoryStorage();
    this.scheduler = ports.scheduler ?? globalScheduler;
    this.random = ports.random ?? Math.random;
    this.onError = ports.onError ?? (() => undefined);
    this.onWarn = ports.onWarn ?? (() => undefined);
    this.bodies = new BatchBodyBuilder(ports.bodyFields, options.maxBatchBytes, options.maxConcurrentRequests);
    this.arena = new ByteArena(Math.max(1024 * 1024, options.maxEventBytes * 4));
  }

  /**
   * Restores events an earlier process left in storage, ahead of anything enqueued since.
   * Synchronous storages restore before this returns; call it once, before or right after
   * the first `enqueue()`.
   */
  start(): Promise<number> {
    let loaded: ReturnType<QueueStorage['load']>;
    try {
      loaded = this.storage.load();
    } catch (err) {
      this.storageFailed('load', [], err);
      return Promise.resolve(0);
    }
    if (!isPromise(loaded)) return Promise.resolve(this.restore(loaded));
    this.loading = true;
    return loaded.then(
      (events) => {
        this.loading = false;
        const n = this.restore(events);
        this.pump();
        return n;
      },
      (err: unknown) => {
        this.loading = false;
        this.storageFailed('load', [], err);
        this.pump();
        return 0;
      },
    );
  }

  private restore(persisted: readonly { messageId: string; json: string }[]): number {
    const restored: QueuedEvent[] = [];
    let seq = -persisted.length;
    for (const p of persisted) {
      const bytes = this.arena.write(p.json);
      restored.push(new QueuedEvent(seq++, p.messageId, '', bytes, this.arena.lastChunk, this.arena.lastOffset));
    }
    if (restored.length === 0) return 0;
    this.queue.prepend(restored);
    this.stats.enqueued += restored.length;
    this.dropOverflow(0, 0);
    this.drainTarget = Math.max(this.drainTarget, -1);
    this.pump();
    return restored.length;
  }

  /**
   * Queues one serialized event (`json` = `JSON.stringify` of the WireEvent, which must carry
   * `messageId`). Persists it through the storage port first. Returns the event's lazy delivery
   * promise; it resolves (never rejects) with the outcome.
   */
  enqueue(messageId: string, json: string): QueuedEvent {
    const bytes = this.arena.write(json);
    const event = new QueuedEvent(++this.seq, messageId, '', bytes, this.arena.lastChunk, this.arena.lastOffset);
    this.stats.enqueued++;
    if (this.stopped) {
      this.fail([event], DELIVERY_ERROR_CODES.STOPPED, 'the client is stopped; the event was not queued');
      return event;
    }
    if (bytes > this.options.maxEventBytes) {
      this.fail(
        [event],
        DELIVERY_ERROR_CODES.INVALID_EVENT,
        `event is ${bytes} bytes; the limit is ${this.options.maxEventBytes} bytes per event`,
      );
      return event;
    }
    if (!this.dropOverflow(1, bytes)) {
      this.stats.dropped++;
      this.fail([event], DELIVERY_ERROR_CODES.QUEUE_FULL, 'the queue is full; the newest event was dropped');
      return event;
    }
    try {
      const stored = this.storage.append(messageId, json);
      if (isPromise(stored)) stored.then(undefined, (err: unknown) => this.storageFailed('append', [messageId], err));
    } catch (err) {
      this.storageFailed('append', [messageId], err);
    }
    this.queue.push(event);
    if (this.queue.count >= this.options.flushAt) this.pump();
    else if (this.intervalTimer === undefined) this.armInterval();
    return event;
  }

  /** Resolves once everything enqueued so far is acknowledged or failed for good (or at `timeoutMs`). */
  flush(options: { timeoutMs?: number } = {}): Promise<FlushResult> {
    const target = this.seq;
    if (this.oldestUnsettledSeq() > target) return Promise.resolve({ pending: 0, timedOut: false });
    this.drainTarget = Math.max(this.drainTarget, target);
    return new Promise<FlushResult>((resolve) => {
      const waiter: FlushWaiter = { target, resolve, timer: undefined };
      if (options.timeoutMs !== undefined) {
        waiter.timer = this.scheduler.setTimeout(
          () => {
            const i = this.waiters.indexOf(waiter);
            if (i >= 0) this.waiters.splice(i, 1);
            resolve({ pending: this.countUnsettledUpTo(target), timedOut: true });
          },
          options.timeoutMs,
          true,
        );
      }
      this.waiters.push(waiter);
      // Someone now awaits: a pending retry must keep the process alive until it runs.
      if (this.retryTimer !== undefined && !this.retryTimerKeepsAlive) this.armRetry();
      this.pump();
    });
  }

  /**
   * Flushes for at most `timeoutMs`, then stops: timers cleared, storage closed, later
   * `enqueue()` calls fail with STOPPED. Unacknowledged events stay in persistent storage.
   */
  async stop(options: { timeoutMs?: number } = {}): Promise<StopResult> {
    const flushed = this.stopped ? { pending: 0, timedOut: false } : await this.flush(options);
    this.stopped = true;
    this.clearTimer('intervalTimer');
    this.clearTimer('retryTimer');
    const left: QueuedEvent[] = [];
    for (const b of this.batches) left.push(...b.events);
    for (let e = this.queue.shift(); e; e = this.queue.shift()) left.push(e);
    this.batches.clear();
    this.inFlightEvents = 0;
    this.inFlightBytes = 0;
    const persistent = this.storage.persistent;
    if (left.length > 0) {
      if (!persistent) this.stats.dropped += left.length;
      this.fail(
        left,
        DELIVERY_ERROR_CODES.STOPPED,
        persistent
          ? `stopped with ${left.length} events unacknowledged; they stay in storage for the next start`
          : `stopped with ${left.length} events unacknowledged and no persistent storage; they are lost`,
        undefined,
        undefined,
        false,
      );
    }
    try {
      await this.storage.close?.();
    } catch (err) {
      this.storageFailed('close', [], err);
    }
    for (const w of this.waiters.splice(0)) this.resolveWaiter(w, { pending: 0, timedOut: false });
    return {
      pending: flushed.pending,
      timedOut: flushed.timedOut,
      persisted: persistent ? left.length : 0,
      dropped: persistent ? 0 : left.length,
    };
  }

  getStats(): DeliveryStats {
    return { ...this.stats, queued: this.queue.count, inFlight: this.inFlightEvents };
  }

  /** True when the queue (with in-flight events) is at or over its bounds. */
  get full(): boolean {
    const o = this.options;
    return (
      this.queue.count + this.inFlightEvents >= o.maxQueueEvents ||
      this.queue.bytes + this.inFlightBytes >= o.maxQueueBytes
    );
  }

  /**
   * Makes room for an incoming event under the queue-full policy. Returns false when the
   * incoming event itself must be dropped (everything queued is in flight, or backpressure's
   * hard bound of twice the limits is reached).
   */
  private dropOverflow(count: number, bytes: number): boolean {
    const o = this.options;
    const factor = o.queueFullPolicy === 'backpressure' ? 2 : 1;
    const maxEvents = o.maxQueueEvents * factor;
    const maxBytes = o.maxQueueBytes * factor;
    const over = () =>
      this.queue.count + this.inFlightEvents + count > maxEvents ||
      this.queue.bytes + this.inFlightBytes + bytes > maxBytes;
    if (!over()) return true;
    if (o.queueFullPolicy === 'backpressure') return false;
    const dropped: QueuedEvent[] = [];
    while (over()) {
      const oldest = this.queue.shift();
      if (!oldest) break;
      dropped.push(oldest);
    }
    if (dropped.length > 0) {
      this.stats.dropped += dropped.length;
      this.fail(dropped, DELIVERY_ERROR_CODES.QUEUE_FULL, `the queue is full; dropped the ${dropped.length} oldest`);
    }
    return !over();
  }

  private armInterval(): void {
    this.intervalTimer = this.scheduler.setTimeout(
      () => {
        this.intervalTimer = undefined;
        this.drainTarget = Math.max(this.drainTarget, this.seq);
        this.pump();
      },
      this.options.flushIntervalMs,
      false,
    );
  }

  private armRetry(): void {
    this.clearTimer('retryTimer');
    const keepAlive = this.waiters.length > 0;
    this.retryTimerKeepsAlive = keepAlive;
    this.retryTimer = this.scheduler.setTimeout(
      () => {
        this.retryTimer = undefined;
        this.pump();
      },
      Math.max(0, this.pausedUntil - this.scheduler.now()),
      keepAlive,
    );
  }

  private clearTimer(name: 'intervalTimer' | 'retryTimer'): void {
    if (this[name] !== undefined) this.scheduler.clearTimeout(this[name]);
    this[name] = undefined;
  }

  /** Starts requests while there is capacity: batches awaiting a retry first, then new ones. */
  private pump(): void {
    if (this.stopped || this.loading) return;
    if (this.pausedUntil > this.scheduler.now()) {
      if (this.retryTimer === undefined) this.armRetry();
      return;
    }
    const o = this.options;
    while (this.activeRequests < o.maxConcurrentRequests) {
      let batch: Batch | undefined;
      for (const b of this.batches) {
        if (!b.sending) {
          batch = b;
          break;
        }
      }
      if (!batch) {
        const head = this.queue.peek();
        if (!head || (this.queue.count < o.flushAt && head.seq > this.drainTarget)) break;
        const events = this.queue.take(o.maxBatchEvents, o.maxBatchBytes - this.bodies.envelopeBytes);
        batch = { events, attempts: 0, sending: false };
        this.batches.add(batch);
        for (const e of events) {
          this.inFlightEvents++;
          this.inFlightBytes += e.bytes;
        }
      }
      this.send(batch);
    }
    if (this.queue.count > 0 && this.intervalTimer === undefined) this.armInterval();
  }

  private send(batch: Batch): void {
    batch.sending = true;
    this.activeRequests++;
    const events = batch.events;
    const sentAt = new Date(this.scheduler.now()).toISOString();
    const outgoing = this.bodies.build(events, batch.attempts, sentAt);
    batch.buffer = outgoing.buffer;
    let sending: Promise<TransportResult>;
    try {
      sending = this.transport.send(outgoing);
    } catch (err) {
      sending = Promise.reject(err);
    }
    sending.then(
      (result) => this.acknowledged(batch, result),
      (err: unknown) => this.failed(batch, err),
    );
  }

  private finishRequest(batch: Batch, settledEvents: readonly QueuedEvent[]): void {
    this.activeRequests--;
    batch.sending = false;
    if (batch.buffer) this.bodies.release(batch.buffer);
    batch.buffer = undefined;
    for (const e of settledEvents) {
      this.inFlightEvents--;
      this.inFlightBytes -= e.bytes;
    }
  }

  private acknowledged(batch: Batch, result: TransportResult): void {
    if (this.stopped || !this.batches.has(batch)) return;
    this.batches.delete(batch);
    this.finishRequest(batch, batch.events);
    this.consecutiveFailures = 0;
    const refused = matchRejections(batch.events, result.rejected ?? []);
    const ids = new Array<string>(batch.events.length);
    for (let i = 0; i < batch.events.length; i++) {
      const e = batch.events[i] as QueuedEvent;
      ids[i] = e.messageId;
      const r = refused.get(e);
      if (!r) {
        e.settle(true);
        continue;
      }
      this.stats.rejected++;
      const error = new DeliveryError(DELIVERY_ERROR_CODES.REJECTED, `collector rejected the event: ${r.reason}`, {
        messageIds: [e.messageId],
        reason: r.code,
      });
      e.settle(false, error);
      this.report(error);
    }
    this.stats.delivered += batch.events.length - refused.size;
    this.removeFromStorage(ids);
    this.afterSettle();
  }

  private failed(batch: Batch, err: unknown): void {
    if (this.stopped || !this.batches.has(batch)) return;
    this.finishRequest(batch, []);
    const error =
      err instanceof TransportError
        ? err
        : new TransportError(`transport failed: ${(err as Error)?.message ?? String(err)}`, {
            retryable: true,
            cause: err,
          });
    if (error.retryable && batch.attempts < this.options.maxRetries) {
      batch.attempts++;
      this.stats.retries++;
      const delay = backoffDelayMs(this.consecutiveFailures, this.options.backoff, error.retryAfterMs, this.random);
      if (this.consecutiveFailures === 0) this.onWarn(`delivery failed, retrying: ${error.message}`, error);
      this.consecutiveFailures++;
      this.pausedUntil = Math.max(this.pausedUntil, this.scheduler.now() + delay);
      this.armRetry();
      return;
    }
    this.batches.delete(batch);
    this.finishRequest(batch, batch.events);
    if (!error.retryable && STATUS_SPLITTABLE.has(error.status ?? 0) && batch.events.length > 1) {
      // No per-event verdict: halve the batch until the refused event is alone, so one bad
      // event cannot take its neighbours down with it.
      const half = Math.ceil(batch.events.length / 2);
      for (const events of [batch.events.slice(0, half), batch.events.slice(half)]) {
        this.batches.add({ events, attempts: batch.attempts, sending: false });
        for (const e of events) {
          this.inFlightEvents++;
          this.inFlightBytes += e.bytes;
        }
      }
      this.pump();
      return;
    }
    const retryable = error.retryable;
    this.stats.rejected += retryable ? 0 : batch.events.length;
    this.stats.dropped += retryable ? batch.events.length : 0;
    this.fail(
      batch.events,
      retryable ? DELIVERY_ERROR_CODES.RETRIES_EXHAUSTED : DELIVERY_ERROR_CODES.REJECTED,
      retryable
        ? `gave up after ${batch.attempts} retries: ${error.message}`
        : `collector refused the batch (${error.status ?? 'no status'}): ${error.message}`,
      error.status === undefined ? undefined : String(error.status),
      error,
    );
    this.afterSettle();
  }

  /** Settles events as not delivered, forgets them in storage (unless `forget` is false), reports once. */
  private fail(
    events: readonly QueuedEvent[],
    code: (typeof DELIVERY_ERROR_CODES)[keyof typeof DELIVERY_ERROR_CODES],
    message: string,
    reason?: string,
    cause?: unknown,
    forget = true,
  ): void {
    const ids = events.map((e) => e.messageId);
    const error = new DeliveryError(code, message, { messageIds: ids, reason, cause });
    for (const e of events) e.settle(false, error);
    if (forget) this.removeFromStorage(ids);
    this.report(error);
  }

  private report(error: KimlikError): void {
    try {
      this.onError(error);
    } catch (err) {
      // A throwing onError must not break delivery; surface it as a warning instead.
      this.onWarn(`onError threw: ${(err as Error)?.message ?? String(err)}`);
    }
  }

  private removeFromStorage(ids: readonly string[]): void {
    if (ids.length === 0) return;
    try {
      const removed = this.storage.remove(ids);
      if (isPromise(removed)) removed.then(undefined, (err: unknown) => this.storageFailed('remove', ids, err));
    } catch (err) {
      this.storageFailed('remove', ids, err);
    }
  }

  private storageFailed(operation: string, ids: readonly string[], err: unknown): void {
    this.report(
      new DeliveryError(
        DELIVERY_ERROR_CODES.STORAGE,
        `storage ${operation} failed: ${(err as Error)?.message ?? String(err)}`,
        { messageIds: ids, cause: err },
      ),
    );
  }

  private afterSettle(): void {
    if (this.waiters.length > 0) {
      const oldest = this.oldestUnsettledSeq();
      for (let i = this.waiters.length - 1; i >= 0; i--) {
        const w = this.waiters[i] as FlushWaiter;
        if (oldest > w.target) {
          this.waiters.splice(i, 1);
          this.resolveWaiter(w, { pending: 0, timedOut: false });
        }
      }
    }
    this.pump();
  }

  private resolveWaiter(w: FlushWaiter, result: FlushResult): void {
    if (w.timer !== undefined) this.scheduler.clearTimeout(w.timer);
    w.resolve(result);
  }

  private oldestUnsettledSeq(): number {
    let min = this.queue.peek()?.seq ?? Number.POSITIVE_INFINITY;
    for (const b of this.batches) {
      const first = b.events[0];
      if (first && first.seq < min) min = first.seq;
    }
    return min;
  }

  private countUnsettledUpTo(target: number): number {
    let n = 0;
    for (const b of this.batches) for (const e of b.events) if (e.seq <= target) n++;
    return n + this.queue.countFromHead((e) => e.seq <= target);
  }
}

function isPromise<T>(value: T | Promise<T>): value is Promise<T> {
  return typeof (value as { then?: unknown } | undefined)?.then === 'function';
}
