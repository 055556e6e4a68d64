import { TransportError } from '../errors.js';

/* What becomes of a batch whose request failed: retried as it is, or halved to isolate a refused event. */

const STATUS_SPLITTABLE = new Set([400, 413, 422]);

/** A failed send as a `TransportError`; anything else a transport throws counts as retryable. */
export function asTransportError(err: unknown): TransportError {
  return err instanceof TransportError
    ? err
    : new TransportError(`transport failed: ${(err as Error)?.message ?? String(err)}`, {
        retryable: true,
        cause: err,
      });
}

/** Retryable failures are retried up to `maxRetries` times. */
export function shouldRetry(error: TransportError, attempts: number, maxRetries: number): boolean {
  return error.retryable && attempts < maxRetries;
}

/**
 * A refusal without a per-event verdict: the batch is halved until the refused event is alone, so
 * one bad event cannot take its neighbours down with it.
 */
export function shouldSplit(error: TransportError, events: { readonly length: number }): boolean {
  return !error.retryable && STATUS_SPLITTABLE.has(error.status ?? 0) && events.length > 1;
}
