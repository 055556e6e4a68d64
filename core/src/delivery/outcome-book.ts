import type { KimlikError } from '../errors.js';
import type { DeliveryResult } from './event-queue.js';

/** Failures remembered for receipts awaited late; beyond this the oldest outcomes are forgotten. */
const MAX_REMEMBERED_FAILURES = 100_000;

/**
 * What receipts need to know, without the engine holding a receipt per event: delivered is the
 * default, failures are remembered by seq (bounded), and receipts awaited while their event is
 * unsettled wait here.
 */
export class OutcomeBook {
  readonly #waiting = new Map<number, ((result: DeliveryResult) => void)[]>();
  readonly #failures = new Map<number, KimlikError>();
  #forgottenUpTo = -Infinity;

  /**
   * The outcome for a receipt; `unsettled` says whether the event is still queued or in flight.
   * A failure forgotten (beyond the bound) reads as `delivered: false` without an error.
   */
  outcome(seq: number, messageId: string, unsettled: boolean): Promise<DeliveryResult> {
    const error = this.#failures.get(seq);
    if (!error && unsettled) {
      return new Promise((resolve) => {
        const list = this.#waiting.get(seq);
        if (list) list.push(resolve);
        else this.#waiting.set(seq, [resolve]);
      });
    }
    return Promise.resolve(
      error ? { messageId, delivered: false, error } : { messageId, delivered: seq > this.#forgottenUpTo },
    );
  }

  /** Records how the event with this seq ended; `id` is called only if a receipt waits for it. */
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
