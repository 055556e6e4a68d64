import type { KimlikError } from '../errors.js';
import { type DeliveryResult, type OutcomeSource, QueuedEvent } from './event-queue.js';

/** Failures remembered for receipts awaited late; beyond this the oldest outcomes are forgotten. */
const MAX_REMEMBERED_FAILURES = 100_000;

/** What receipts ask the engine. */
export interface ReceiptHost {
  /** Whether the event with this seq is still queued or in flight. */
  isUnsettled(seq: number): boolean;
  /**
   * Someone awaits the event with this seq: send it without waiting for `flushAt` or the
   * interval (a caller pacing itself on receipts would otherwise wait `flushIntervalMs` each).
   */
  awaited(seq: number): void;
}

/**
 * The receipts `enqueue()` returns, as a port: the Node SDK hands them to callers (`await
 * track()`); the browser returns nothing and so carries none of this code.
 */
export interface Receipts<R> {
  /** The receipt of an event the engine queued under `seq`. */
  queued(seq: number, messageId: string): R;
  /** The receipt of an event refused before queueing. */
  refused(messageId: string, error: KimlikError): R;
  /** How the event with this seq ended; `id` is called only if someone needs the messageId. */
  settle(seq: number, id: () => string, error: KimlikError | undefined): void;
}

export type ReceiptsFactory<R> = (host: ReceiptHost) => Receipts<R>;

/**
 * Receipts without the engine holding one per event: delivered is the default, failures are
 * remembered by seq (bounded), and receipts awaited while their event is unsettled wait here.
 */
export class OutcomeBook implements Receipts<QueuedEvent>, OutcomeSource {
  readonly #host: ReceiptHost;
  readonly #waiting = new Map<number, ((result: DeliveryResult) => void)[]>();
  readonly #failures = new Map<number, KimlikError>();
  #forgottenUpTo = -Infinity;

  constructor(host: ReceiptHost) {
    this.#host = host;
  }

  queued(seq: number, messageId: string): QueuedEvent {
    return new QueuedEvent(seq, messageId, this);
  }

  refused(messageId: string, error: KimlikError): QueuedEvent {
    const receipt = new QueuedEvent(0, messageId);
    receipt.settle(false, error);
    return receipt;
  }

  /**
   * The outcome for a receipt, waiting while the event is still queued or in flight.
   * A failure forgotten (beyond the bound) reads as `delivered: false` without an error.
   */
  outcome(seq: number, messageId: string): Promise<DeliveryResult> {
    const error = this.#failures.get(seq);
    if (!error && this.#host.isUnsettled(seq)) {
      this.#host.awaited(seq);
      return new Promise((resolve) => {
        // The caller's messageId wins: the engine may settle an event it holds only on disk without it.
        const waiter = (result: DeliveryResult) => resolve({ ...result, messageId });
        const list = this.#waiting.get(seq);
        if (list) list.push(waiter);
        else this.#waiting.set(seq, [waiter]);
      });
    }
    return Promise.resolve(
      error ? { messageId, delivered: false, error } : { messageId, delivered: seq > this.#forgottenUpTo },
    );
  }

  settle(seq: number, id: () => string, error: KimlikError | undefined): void {
    if (error) {
      this.#failures.set(seq, error);
      if (this.#failures.size > MAX_REMEMBERED_FAILURES) {
        const oldest = this.#failures.keys().next().value as number;
        this.#failures.delete(oldest);
        this.#forgottenUpTo = Math.max(this.#forgottenUpTo, oldest);
      }
    }
    if (this.#waiting.size === 0) return;
    const list = this.#waiting.get(seq);
    if (!list) return;
    this.#waiting.delete(seq);
    const messageId = id();
    const result: DeliveryResult = error ? { messageId, delivered: false, error } : { messageId, delivered: true };
    for (const resolve of list) resolve(result);
  }
}

/** Receipts for `DeliveryPorts.receipts`: `enqueue()` then returns an awaitable `QueuedEvent`. */
export const outcomeBook: ReceiptsFactory<QueuedEvent> = (host) => new OutcomeBook(host);
