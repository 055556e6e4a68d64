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
  /** Events dropped past the queue bound in the current burst (reported or counted). */
  #dropped = 0;

  /** An arrow: handed on as a callback (`onError`, `.catch`) without a wrapper. */
  readonly report = (error: unknown): void => {
    const e =
      error instanceof KimlikError
        ? error
        : new KimlikError(WEB_ERROR_CODES.UNEXPECTED, String(error), { cause: error });
    // Past the queue bound every call drops one event: a loop of 10 000 calls made 10 000 console
    // warnings and stalled the page for seconds. The first of a burst is reported, the rest in one
    // count a second later.
    if (e.code === DELIVERY_ERROR_CODES.QUEUE_FULL) {
      const count = (e as DeliveryError).messageIds?.length || 1;
      const burst = this.#dropped;
      this.#dropped += count;
      if (burst) return;
      setTimeout(() => {
        const more = this.#dropped - count;
        this.#dropped = 0;
        if (more) this.#emit(new KimlikError(e.code, `queue full: ${more} more events dropped`));
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
