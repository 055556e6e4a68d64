import type { KimlikError } from '../errors.js';
import { utf8Decoder } from './byte-arena.js';

/** How one event ended. The promise `track()` returns resolves with it and never rejects. */
export interface DeliveryResult {
  messageId: string;
  /** True once the collector acknowledged (stored or already had) the event. */
  delivered: boolean;
  /** Why it was not delivered: a `DeliveryError` (rejected, dropped, stopped, …). */
  error?: KimlikError;
}

/**
 * What `track()` returns: awaitable for the event's outcome, with the `messageId` at hand at once.
 * It never rejects, so leaving it un-awaited (fire and forget) is safe — which is why it is typed
 * as a plain thenable rather than a `Promise` that no-floating-promises lint rules would flag.
 */
export interface DeliveryReceipt {
  readonly messageId: string;
  then<T1 = DeliveryResult, T2 = never>(
    onFulfilled?: ((value: DeliveryResult) => T1 | PromiseLike<T1>) | null,
    onRejected?: ((reason: unknown) => T2 | PromiseLike<T2>) | null,
  ): Promise<T1 | T2>;
}

/**
 * One queued event, and the promise of its delivery. The promise is created only when a caller
 * uses it (`then`/`await`), so a burst of fire-and-forget events allocates no promise per event.
 */
export class QueuedEvent implements Promise<DeliveryResult>, DeliveryReceipt {
  /** Position in enqueue order; restored events get negative numbers so they sort first. */
  seq: number;
  readonly messageId: string;
  /** UTF-8 length of the serialized event. */
  readonly bytes: number;
  /** Where the serialized event's bytes live (a `ByteArena` chunk); released once settled. */
  chunk: Uint8Array | undefined;
  offset: number;
  private text: string | undefined;
  private state: 0 | 1 | 2 = 0; // pending, delivered, failed
  private error: KimlikError | undefined;
  private promise: Promise<DeliveryResult> | undefined;
  private resolvePromise: ((result: DeliveryResult) => void) | undefined;

  /**
   * `json` is kept as a string when given; the engine passes `''` and a chunk instead
   * (see `ByteArena`).
   */
  constructor(seq: number, messageId: string, json: string, bytes: number, chunk?: Uint8Array, offset = 0) {
    this.seq = seq;
    this.messageId = messageId;
    this.bytes = bytes;
    this.text = chunk ? undefined : json;
    this.chunk = chunk;
    this.offset = offset;
  }

  /** The serialized event ('' once settled). */
  get json(): string {
    if (this.text !== undefined) return this.text;
    return this.chunk ? utf8Decoder.decode(this.chunk.subarray(this.offset, this.offset + this.bytes)) : '';
  }

  get settled(): boolean {
    return this.state !== 0;
  }

  /** @internal Called by the engine exactly once. */
  settle(delivered: boolean, error?: KimlikError): void {
    if (this.state !== 0) return;
    this.state = delivered ? 1 : 2;
    this.error = error;
    this.text = undefined;
    this.chunk = undefined;
    if (this.resolvePromise) {
      this.resolvePromise(this.result());
      this.resolvePromise = undefined;
    }
  }

  /** Built only for callers who await: no result object per fire-and-forget event. */
  private result(): DeliveryResult {
    return this.error
      ? { messageId: this.messageId, delivered: this.state === 1, error: this.error }
      : { messageId: this.messageId, delivered: this.state === 1 };
  }

  private asPromise(): Promise<DeliveryResult> {
    if (!this.promise) {
      this.promise =
        this.state !== 0
          ? Promise.resolve(this.result())
          : new Promise<DeliveryResult>((resolve) => {
              this.resolvePromise = resolve;
            });
    }
    return this.promise;
  }

  // biome-ignore lint/suspicious/noThenProperty: the lazy delivery promise is a real thenable on purpose
  then<T1 = DeliveryResult, T2 = never>(
    onFulfilled?: ((value: DeliveryResult) => T1 | PromiseLike<T1>) | null,
    onRejected?: ((reason: unknown) => T2 | PromiseLike<T2>) | null,
  ): Promise<T1 | T2> {
    return this.asPromise().then(onFulfilled, onRejected);
  }

  catch<T = never>(onRejected?: ((reason: unknown) => T | PromiseLike<T>) | null): Promise<DeliveryResult | T> {
    return this.asPromise().catch(onRejected);
  }

  finally(onFinally?: (() => void) | null): Promise<DeliveryResult> {
    return this.asPromise().finally(onFinally);
  }

  get [Symbol.toStringTag](): string {
    return 'Promise';
  }
}

/** FIFO of queued events with O(1) push/shift and running count and byte totals. */
export class EventQueue {
  private items: (QueuedEvent | undefined)[] = [];
  private head = 0;
  count = 0;
  bytes = 0;

  push(event: QueuedEvent): void {
    this.items.push(event);
    this.count++;
    this.bytes += event.bytes;
  }

  peek(): QueuedEvent | undefined {
    return this.items[this.head];
  }

  shift(): QueuedEvent | undefined {
    const event = this.items[this.head];
    if (!event) return undefined;
    this.items[this.head++] = undefined;
    this.count--;
    this.bytes -= event.bytes;
    // Compact once the consumed prefix dominates, keeping shift O(1) amortised.
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return event;
  }

  /** Events put in front of the queue, e.g. restored from storage after newer events arrived. */
  prepend(events: readonly QueuedEvent[]): void {
    this.items = [...events, ...this.items.slice(this.head)];
    this.head = 0;
    for (const e of events) {
      this.count++;
      this.bytes += e.bytes;
    }
  }

  /** Events from the head while `predicate` holds (the queue is in enqueue order). */
  countFromHead(predicate: (event: QueuedEvent) => boolean): number {
    let n = 0;
    for (let i = this.head; i < this.items.length; i++) {
      const e = this.items[i];
      if (!e || !predicate(e)) break;
      n++;
    }
    return n;
  }

  /**
   * The batcher: takes events from the head while they fit `maxEvents` and `maxBytes` (each
   * event costs its bytes plus one for the separating comma). Always takes at least one.
   */
  take(maxEvents: number, maxBytes: number): QueuedEvent[] {
    const out: QueuedEvent[] = [];
    let bytes = 0;
    while (out.length < maxEvents) {
      const next = this.peek();
      if (!next) break;
      if (out.length > 0 && bytes + next.bytes + 1 > maxBytes) break;
      bytes += next.bytes + 1;
      out.push(next);
      this.shift();
    }
    return out;
  }
}
