import type { KimlikError } from '../errors.js';
import { DELIVERY_ERROR_CODES, DeliveryError } from './errors.js';
import type { Scheduler } from './ports.js';

/** Drops are told at most twice per window: the first at once, the rest summed at its end. */
const WINDOW_MS = 5000;
/** The messageIds a drop report names; the count says how many more were dropped. */
const MAX_REPORTED_IDS = 100;

interface Held {
  count: number;
  ids: string[];
  /** What the held drops' receipts say; one object for the whole burst. */
  error: DeliveryError;
}

/**
 * Queue-full drops, reported once per burst. During an outage every `track()` drops one event:
 * an `onError` call and a `DeliveryError` (kept for its receipt) per drop made 150 000 calls and
 * ~6× `maxQueueBytes` of memory for 150 000 drops. The first drop of a burst is told at once; the
 * next ones share one error and are told together (count and the first 100 messageIds) when the
 * window ends, a flush settles or the engine stops, whichever is first.
 */
export class DropReport {
  readonly #scheduler: Scheduler;
  readonly #report: (error: KimlikError) => void;
  #windowEnd = -Infinity;
  #held: Held | undefined;
  #timer: unknown;

  constructor(scheduler: Scheduler, report: (error: KimlikError) => void) {
    this.#scheduler = scheduler;
    this.#report = report;
  }

  /** Records `count` dropped events (`idAt(i)` names the i-th); returns the error for their receipts. */
  dropped(count: number, idAt: (i: number) => string, message: string): DeliveryError {
    const now = this.#scheduler.now();
    if (now >= this.#windowEnd) {
      this.tell();
      this.#windowEnd = now + WINDOW_MS;
      const error = new DeliveryError(DELIVERY_ERROR_CODES.QUEUE_FULL, message, { messageIds: ids(count, idAt, []) });
      this.#report(error);
      return error;
    }
    if (!this.#held) {
      const held: string[] = [];
      this.#held = {
        count: 0,
        ids: held,
        error: new DeliveryError(
          DELIVERY_ERROR_CODES.QUEUE_FULL,
          'queue full: event dropped (reported with its burst)',
          {
            messageIds: held,
          },
        ),
      };
      // Not keeping the process alive: stop() and settled flushes tell what is held.
      this.#timer = this.#scheduler.setTimeout(() => this.tell(), this.#windowEnd - now, false);
    }
    this.#held.count += count;
    ids(count, idAt, this.#held.ids);
    return this.#held.error;
  }

  /** Tells the drops held back, if any, in one report. */
  tell(): void {
    const held = this.#held;
    if (!held) return;
    this.#held = undefined;
    this.#scheduler.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#report(
      new DeliveryError(
        DELIVERY_ERROR_CODES.QUEUE_FULL,
        `queue full: dropped ${held.count} more events within ${WINDOW_MS / 1000} s (messageIds: the first ${held.ids.length})`,
        { messageIds: held.ids.slice() },
      ),
    );
  }
}

function ids(count: number, idAt: (i: number) => string, into: string[]): string[] {
  for (let i = 0; i < count && into.length < MAX_REPORTED_IDS; i++) into.push(idAt(i));
  return into;
}
