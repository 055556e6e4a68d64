import {
  asTransportError,
  backoffDelayMs,
  batchJson,
  DELIVERY_ERROR_CODES,
  DeliveryError,
  type DeliveryErrorCode,
  envelopeBytes,
  type KimlikError,
  type ResolvedQueueOptions,
  rejectedIndex,
  shouldRetry,
  shouldSplit,
  type TransportError,
  type TransportResult,
  utf8Length,
} from '@kimlik/core';

/** What the queue needs from its tab: the network, storage and where failures go. */
export interface SendPorts {
  /** POSTs one `/v1/batch` body: the collector's per-event verdict, or a `TransportError`. */
  post(body: string): Promise<TransportResult>;
  /** Forgets settled events (acknowledged, rejected or dropped) in storage. */
  remove(ids: string[]): void;
  /** Whether a request may start now (consent granted and online); `pump()` is called when that changes. */
  open(): boolean;
  report(error: KimlikError): void;
}

/**
 * The UTF-8 size of an event, or 0 when it is over `maxEventBytes`: then it is reported and must
 * be dropped (the collector would refuse it). Checked where an event is made, in any tab.
 */
export function eventBytes(id: string, json: string, maxEventBytes: number, report: SendPorts['report']): number {
  const bytes = utf8Length(json);
  if (bytes <= maxEventBytes) return bytes;
  report(
    new DeliveryError(DELIVERY_ERROR_CODES.INVALID_EVENT, `event of ${bytes} bytes is over maxEventBytes`, {
      messageIds: [id],
    }),
  );
  return 0;
}

/**
 * The sending tab's queue of unacknowledged events, oldest first, and its batcher: one request at
 * a time (a device's events reach the collector in order), batches by count, bytes and time, retries
 * with exponential backoff and jitter (Retry-After a floor), per-event rejections, a 400/413/422
 * without detail halved until the refused event is alone, and a bound that drops the oldest.
 *
 * The browser's own, not core's `DeliveryEngine`: that one serves the Node SDK's concurrent requests,
 * receipts and disk spool, and cost the script tag about 3 KB gzip. Both share core's backoff, failure
 * policy, errors and body format. A batch is taken from the queue's head only when its request
 * starts, so nothing is held for a closed gate (offline, no consent) and the bound always drops the
 * oldest events that are in no request.
 */
export class SendQueue {
  /**
   * messageId → JSON in send order; the request in flight holds the first `#sending` entries.
   * Bytes are measured again when a batch is cut and when events leave (about 1 µs per 1 KB
   * event, in later tasks than the call), rather than kept per event: the script tag has no bytes
   * to spare.
   */
  readonly q = new Map<string, string>();
  #bytes = 0;
  #sending = 0;
  /** Most events of the next batch while a refused event is being isolated. */
  #cap = Number.POSITIVE_INFINITY;
  #attempts = 0;
  #failures = 0;
  /** No request before this time (backoff). */
  #due = 0;
  /** A partial batch may go: the interval fired or a flush asked. */
  #drain = false;
  #interval: ReturnType<typeof setTimeout> | undefined;
  #retry: ReturnType<typeof setTimeout> | undefined;
  /** Flushes waiting for the newest event queued at their call to settle. */
  #flushes: [string, () => void][] = [];
  /** Bumped by `stop()`: answers to requests made before are ignored. */
  #generation = 0;
  /** Until the stored queue is restored nothing is sent, so it goes first. */
  #loading = true;
  readonly #o: ResolvedQueueOptions;
  readonly #ports: SendPorts;
  /** `,"writeKey":"…"}`: what ends every body. */
  readonly #suffix: string;

  constructor(o: ResolvedQueueOptions, ports: SendPorts, suffix: string) {
    this.#o = o;
    this.#ports = ports;
    this.#suffix = suffix;
  }

  /** Queues one event unless it is queued already; false when refused or dropped at once (too big, bound). */
  add(id: string, json: string): boolean {
    if (this.q.has(id)) return false;
    const bytes = eventBytes(id, json, this.#o.maxEventBytes, this.#ports.report);
    if (!bytes) return false;
    this.q.set(id, json);
    this.#bytes += bytes;
    this.#bound();
    this.pump();
    return this.q.has(id);
  }

  /** Puts the stored queue (oldest first) ahead of what was added meanwhile, then sends. */
  restore(stored: [string, string][]): void {
    const added = [...this.q];
    this.q.clear();
    this.#bytes = 0;
    for (const [id, json] of [...stored, ...added])
      if (!this.q.has(id)) {
        this.q.set(id, json);
        this.#bytes += utf8Length(json);
      }
    this.#loading = false;
    // What was stored or added meanwhile has waited already: it goes without waiting for flushAt.
    this.#drain = this.q.size > 0;
    this.#bound();
    this.pump();
  }

  /** Resolves once every event queued now is settled, or after `timeoutMs`. */
  flush(timeoutMs: number): Promise<void> {
    const newest = [...this.q.keys()].pop();
    if (newest === undefined) return Promise.resolve();
    this.#drain = true;
    this.pump();
    return new Promise((resolve) => {
      const waiter: [string, () => void] = [newest, resolve];
      this.#flushes.push(waiter);
      // Timed out: forgotten, so flushes made while offline do not pile up.
      setTimeout(() => {
        this.#flushes = this.#flushes.filter((w) => w !== waiter);
        resolve();
      }, timeoutMs);
    });
  }

  /** Forgets everything in memory (storage keeps it); a request in flight is no longer heard. */
  stop(): void {
    this.#generation++;
    clearTimeout(this.#interval);
    clearTimeout(this.#retry);
    this.#interval = this.#retry = undefined;
    this.q.clear();
    this.#bytes = this.#sending = this.#attempts = this.#failures = this.#due = 0;
    this.#settled();
  }

  /** Starts the next request if one may go now, or arms the timer that will. */
  pump(): void {
    const q = this.q;
    const o = this.#o;
    if (this.#sending || this.#loading || !q.size) return;
    const wait = this.#due - Date.now();
    if (wait > 0) {
      clearTimeout(this.#retry);
      this.#retry = setTimeout(() => this.pump(), wait);
      return;
    }
    if (q.size < o.flushAt && !this.#drain) {
      this.#interval ??= setTimeout(() => {
        this.#interval = undefined;
        this.#drain = true;
        this.pump();
      }, o.flushIntervalMs);
      return;
    }
    if (!this.#ports.open()) return;
    const ids: string[] = [];
    const jsons: string[] = [];
    const room = o.maxBatchBytes - envelopeBytes(this.#suffix);
    let size = 0;
    for (const [id, json] of q) {
      size += utf8Length(json) + 1;
      if (ids.length >= Math.min(o.maxBatchEvents, this.#cap) || (ids.length && size > room)) break;
      ids.push(id);
      jsons.push(json);
    }
    this.#sending = ids.length;
    const generation = this.#generation;
    this.#ports.post(batchJson(jsons, new Date().toISOString(), this.#suffix)).then(
      (result) => generation === this.#generation && this.#acknowledged(ids, result),
      (e: unknown) => generation === this.#generation && this.#failed(ids, e),
    );
  }

  #acknowledged(ids: string[], { rejected }: TransportResult): void {
    this.#sending = this.#attempts = this.#failures = 0;
    for (const r of rejected ?? []) {
      const id = ids[rejectedIndex(ids, r)];
      if (id !== undefined)
        this.#ports.report(
          new DeliveryError(DELIVERY_ERROR_CODES.REJECTED, `collector rejected the event: ${r.reason}`, {
            messageIds: [id],
            reason: r.code,
          }),
        );
    }
    this.#remove(ids);
  }

  #failed(ids: string[], thrown: unknown): void {
    this.#sending = 0;
    const error = asTransportError(thrown);
    if (shouldRetry(error, this.#attempts, this.#o.maxRetries)) {
      this.#attempts++;
      this.#due = Date.now() + backoffDelayMs(this.#failures++, this.#o.backoff, error.retryAfterMs);
    } else if (shouldSplit(error, ids)) this.#cap = Math.ceil(ids.length / 2);
    else {
      const retryable = error.retryable;
      this.#fail(
        ids,
        retryable ? DELIVERY_ERROR_CODES.RETRIES_EXHAUSTED : DELIVERY_ERROR_CODES.REJECTED,
        // The transport's message names the status.
        `${retryable ? `gave up after ${this.#attempts} retries` : 'collector refused the batch'}: ${error.message}`,
        error,
      );
      this.#attempts = 0;
      this.#cap = Number.POSITIVE_INFINITY;
    }
    this.pump();
  }

  /** Past `maxQueueEvents`/`maxQueueBytes`: drops the oldest events in no request. */
  #bound(): void {
    const q = this.q;
    const o = this.#o;
    const dropped: string[] = [];
    let skip = this.#sending;
    for (const [id, json] of q) {
      if (q.size - dropped.length <= o.maxQueueEvents && this.#bytes <= o.maxQueueBytes) break;
      if (skip-- > 0) continue;
      dropped.push(id);
      this.#bytes -= utf8Length(json);
    }
    if (dropped.length) {
      for (const id of dropped) q.delete(id);
      this.#fail(dropped, DELIVERY_ERROR_CODES.QUEUE_FULL, `queue full: dropped the ${dropped.length} oldest`);
    }
  }

  #report(ids: string[], code: DeliveryErrorCode, message: string, cause?: TransportError): void {
    this.#ports.report(new DeliveryError(code, message, { messageIds: ids, reason: cause?.status?.toString(), cause }));
  }

  /** Settles events as not delivered: reported once, forgotten. */
  #fail(ids: string[], code: DeliveryErrorCode, message: string, cause?: TransportError): void {
    this.#report(ids, code, message, cause);
    this.#remove(ids);
  }

  #remove(ids: string[]): void {
    for (const id of ids) {
      const json = this.q.get(id);
      if (json !== undefined) this.#bytes -= utf8Length(json);
      this.q.delete(id);
    }
    this.#ports.remove(ids);
    this.#settled();
    this.pump();
  }

  #settled(): void {
    const { q } = this;
    if (!q.size) {
      this.#drain = false;
      this.#cap = Number.POSITIVE_INFINITY;
    }
    this.#flushes = this.#flushes.filter(([newest, resolve]) => q.has(newest) || resolve());
  }
}
