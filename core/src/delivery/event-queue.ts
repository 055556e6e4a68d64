import type { KimlikError } from '../errors.js';
import { globalScheduler, MAX_TIMER_MS } from './ports.js';

/** How one event ended. The promise `track()` returns resolves with it and never rejects. */
export interface DeliveryResult {
  messageId: string;
  /** True once the collector acknowledged (stored or already had) the event. */
  delivered: boolean;
  /** Why it was not delivered: a `DeliveryError` (rejected, dropped, stopped, …). */
  error?: KimlikError;
  /** Only from `within(ms)`: the wait ended before the outcome; the event is still being sent. */
  pending?: true;
}

/**
 * What `track()` returns: awaitable for the event's outcome, with the `messageId` at hand at once.
 * It never rejects, so leaving it un-awaited (fire and forget) is safe — which is why it is typed
 * as a plain thenable rather than a `Promise` that no-floating-promises lint rules would flag.
 */
export interface DeliveryReceipt {
  readonly messageId: string;
  /**
   * The outcome, waiting at most `ms`: past it `{ delivered: false, pending: true }`, and the
   * event is still queued and retried. For a request path: during an outage an outcome takes as
   * long as the outage.
   */
  within(ms: number): Promise<DeliveryResult>;
  then<T1 = DeliveryResult, T2 = never>(
    onFulfilled?: ((value: DeliveryResult) => T1 | PromiseLike<T1>) | null,
    onRejected?: ((reason: unknown) => T2 | PromiseLike<T2>) | null,
  ): Promise<T1 | T2>;
}

/** @internal Where a receipt learns its outcome: the engine. */
export interface OutcomeSource {
  outcome(seq: number, messageId: string): Promise<DeliveryResult>;
}

/**
 * The receipt of one event: the promise of its delivery, created only when a caller uses it
 * (`then`/`await`). The engine keeps no reference to it — a fire-and-forget burst leaves nothing
 * per event on the JS heap — and answers `outcome(seq)` when asked.
 */
export class QueuedEvent implements DeliveryReceipt {
  readonly messageId: string;
  /** Position in enqueue order (restored events come first). */
  readonly seq: number;
  readonly #source: OutcomeSource | undefined;
  #result: DeliveryResult | undefined;
  #promise: Promise<DeliveryResult> | undefined;

  constructor(seq: number, messageId: string, source?: OutcomeSource) {
    this.seq = seq;
    this.messageId = messageId;
    this.#source = source;
  }

  /** Settles a receipt the engine did not queue (refused at once). */
  settle(delivered: boolean, error?: KimlikError): void {
    if (this.#result) return;
    this.#result = error ? { messageId: this.messageId, delivered, error } : { messageId: this.messageId, delivered };
  }

  #asPromise(): Promise<DeliveryResult> {
    if (!this.#promise) {
      this.#promise = this.#result
        ? Promise.resolve(this.#result)
        : this.#source
          ? this.#source.outcome(this.seq, this.messageId)
          : Promise.resolve({ messageId: this.messageId, delivered: false });
    }
    return this.#promise;
  }

  within(ms: number): Promise<DeliveryResult> {
    // No deadline (Infinity; past 2^31 - 1 ms a timer fires at once, so none is armed): an await,
    // through then(), which a subclass may extend (the Node SDK's holds the process).
    if (ms > MAX_TIMER_MS) return this.then((result) => result);
    let timer: unknown;
    const late = new Promise<DeliveryResult>((resolve) => {
      // Kept alive: someone awaits it, for a bounded time.
      timer = globalScheduler.setTimeout(
        () => resolve({ messageId: this.messageId, delivered: false, pending: true }),
        ms,
        true,
      );
    });
    return Promise.race([this.#asPromise(), late]).finally(() => globalScheduler.clearTimeout(timer));
  }

  // biome-ignore lint/suspicious/noThenProperty: the lazy delivery promise is a real thenable on purpose
  then<T1 = DeliveryResult, T2 = never>(
    onFulfilled?: ((value: DeliveryResult) => T1 | PromiseLike<T1>) | null,
    onRejected?: ((reason: unknown) => T2 | PromiseLike<T2>) | null,
  ): Promise<T1 | T2> {
    return this.#asPromise().then(onFulfilled, onRejected);
  }
}
