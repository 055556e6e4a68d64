import type { EventBuffer } from './event-buffer.js';
import type { Overflow, QueuePager } from './ports.js';

/**
 * The engine's bookkeeping for a `QueuePager`: how many events wait on storage only and the seqs
 * they get. A module of its own, built by the storage (`QueueStorage.overflow`), so only the Node
 * SDK, whose disk spool pages, carries it; a browser bundle does not.
 */
export class PagerOverflow implements Overflow {
  count = 0;
  /** Seq of the oldest event on storage only; the next ones follow in order. */
  head = 0;
  readonly #pager: QueuePager;

  constructor(pager: QueuePager) {
    this.#pager = pager;
  }

  start(): number {
    const backlog = this.#pager.backlog;
    // Numbered up to 0, right below the seqs enqueue() hands out next (so start() comes first).
    if (backlog > 0) this.head = 1 - backlog;
    this.count = backlog;
    return backlog;
  }

  offer(messageId: string, json: string, full: boolean, seq: number): boolean | undefined {
    if (this.count === 0 && !full) return undefined;
    if (this.#pager.spill(messageId, json)) {
      if (this.count++ === 0) this.head = seq;
      return true;
    }
    // Storage full or failing (it reported why): the queue-full policy applies when nothing waits
    // on storage, else the event is dropped (it would overtake those that wait).
    return this.count > 0 ? false : undefined;
  }

  pageIn(queue: EventBuffer, maxEvents: number, maxBytes: number): number | undefined {
    if (this.count === 0 || maxEvents <= 0) return undefined;
    const events = this.#pager.next(maxEvents, maxBytes);
    for (const p of events) {
      queue.stage(p.messageId, p.json);
      queue.push(this.head++);
    }
    // Nothing came back although memory has room: the storage lost them (and reported it).
    this.count = events.length > 0 ? this.count - events.length : 0;
    return this.head - 1;
  }
}
