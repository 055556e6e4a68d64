import {
  type DeliveryResult,
  MAX_TIMER_MS,
  OutcomeBook,
  type OutcomeSource,
  QueuedEvent,
  type ReceiptsFactory,
} from '@kimlik/core';

/**
 * A receipt that holds the process while someone awaits it (`await`, `.then(callback)`): its
 * event's requests and retries keep the event loop open until the outcome, as for `flush()`.
 * Without it a script awaiting `track()` during an outage emptied the loop, and the exit flush
 * gave up on the event. `within(ms)` is held by its own timer, for `ms` only.
 */
class AwaitedReceipt extends QueuedEvent {
  readonly #hold: () => () => void;
  #held = false;

  constructor(seq: number, messageId: string, source: OutcomeSource, hold: () => () => void) {
    super(seq, messageId, source);
    this.#hold = hold;
  }

  // biome-ignore lint/suspicious/noThenProperty: the receipt is a thenable on purpose (see QueuedEvent)
  override then<T1 = DeliveryResult, T2 = never>(
    onFulfilled?: ((value: DeliveryResult) => T1 | PromiseLike<T1>) | null,
    onRejected?: ((reason: unknown) => T2 | PromiseLike<T2>) | null,
  ): Promise<T1 | T2> {
    if (!this.#held) {
      this.#held = true;
      const release = this.#hold();
      super.then(release, release);
    }
    return super.then(onFulfilled, onRejected);
  }
}

/** `outcomeBook`'s receipts, held while awaited through `hold` (whose result releases). */
export function awaitedReceipts(hold: () => () => void): ReceiptsFactory<QueuedEvent> {
  return (host) => {
    const book = new OutcomeBook(host);
    return {
      queued: (seq, messageId) => new AwaitedReceipt(seq, messageId, book, hold),
      refused: (messageId, error) => book.refused(messageId, error),
      settle: (seq, id, error) => book.settle(seq, id, error),
    };
  };
}
