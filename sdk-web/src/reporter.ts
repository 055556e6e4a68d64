import { DELIVERY_ERROR_CODES, type DeliveryError, KimlikError } from '@kimlik/core';
import { WEB_ERROR_CODES } from './errors.js';
import { DEFAULTS, type ResolvedWebOptions } from './options.js';

/**
 * Where an instance's failures go, the base of `Client`: the page's `onError` (the console when
 * that throws), never a throw into the page.
 */
export class Reporter {
  /** The resolved options once `init()` ran; before, failures go to the default `onError`. */
  o: ResolvedWebOptions | undefined;
  /** Per code (queue full, storage failed): events of the current burst, reported or counted. */
  readonly #bursts: Record<string, number> = {};

  /** An arrow: handed on as a callback (`onError`, `.catch`) without a wrapper. */
  readonly report = (error: unknown): void => {
    const e =
      error instanceof KimlikError
        ? error
        : new KimlikError(WEB_ERROR_CODES.UNEXPECTED, String(error), { cause: error });
    // Past the queue bound every call drops one event (a loop of 10 000 calls made 10 000 console
    // warnings and stalled the page for seconds); with IndexedDB over its quota every write fails.
    // The first of a burst is reported, the rest in one count a second later.
    const { code } = e;
    if (code === DELIVERY_ERROR_CODES.QUEUE_FULL || code === DELIVERY_ERROR_CODES.STORAGE) {
      const bursts = this.#bursts;
      const count = (e as DeliveryError).messageIds?.length || 1;
      const burst = bursts[code];
      bursts[code] = (burst ?? 0) + count;
      if (burst) return;
      setTimeout(() => {
        const more = (bursts[code] as number) - count;
        bursts[code] = 0;
        // "queue full: 3 more events", "storage failed: 3 more events".
        if (more) this.#emit(new KimlikError(code, `${e.message.split(':')[0]}: ${more} more events`));
      }, 1000);
    }
    this.#emit(e);
  };

  #emit(e: KimlikError): void {
    try {
      (this.o ?? DEFAULTS).onError(e);
    } catch (thrown) {
      // The page's own onError failed: the console is all that is left.
      console.warn('[kimlik]', thrown);
    }
  }

  guard<T>(fn: () => T): T | undefined {
    try {
      return fn();
    } catch (e) {
      this.report(e);
      return undefined;
    }
  }
}
