import type { Batch } from './batch.js';
import type { EventRun } from './event-buffer.js';
import type { Overflow } from './ports.js';

/** Seq of the oldest queued event, or Infinity. */
export function headSeq(queue: EventRun): number {
  return queue.length > 0 ? queue.seq(0) : Number.POSITIVE_INFINITY;
}

/** Seq of the oldest event queued in memory (`head`) or spilled, or Infinity. */
export function firstQueuedSeq(head: number, overflow: Overflow | undefined): number {
  return overflow?.count ? Math.min(head, overflow.head) : head;
}

/**
 * Whether the event numbered `seq` is still queued, spilled or in a batch (what a receipt waits
 * for); `lastSeq` is the newest seq handed out.
 */
export function isUnsettled(
  seq: number,
  lastSeq: number,
  queue: EventRun,
  overflow: Overflow | undefined,
  batches: Iterable<Batch>,
): boolean {
  // New events join the queue's (or the spill's) tail and leave from its head, so together they hold every seq from the head on.
  if (seq >= firstQueuedSeq(headSeq(queue), overflow) && seq <= lastSeq) return true;
  for (const b of batches) {
    const e = b.events;
    if (e.length > 0 && seq >= e.seq(0) && seq <= e.seq(e.length - 1)) return true;
  }
  return false;
}
