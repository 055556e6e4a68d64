export interface BackoffOptions {
  /** First retry delay. */
  baseMs: number;
  /** Ceiling for any single delay. */
  maxMs: number;
}

/**
 * Exponential backoff with full jitter (AWS architecture blog, "Exponential Backoff And Jitter"):
 * spreads retries of many clients after an outage instead of synchronising them.
 * A server's Retry-After is a floor, never shortened by jitter.
 */
export function backoffDelayMs(
  attempt: number,
  options: BackoffOptions,
  retryAfterMs?: number,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(options.maxMs, options.baseMs * 2 ** Math.max(0, attempt));
  const jittered = Math.max(options.baseMs, Math.round(random() * ceiling));
  // A Retry-After is honoured up to 1e9 ms (11.6 days): timers past 2^31 - 1 ms fire at once,
  // and a retry timer re-armed itself every millisecond for the whole outage.
  return retryAfterMs !== undefined && retryAfterMs > jittered ? Math.min(retryAfterMs, 1e9) : jittered;
}

/** Parses an HTTP Retry-After header (seconds or an HTTP date) into milliseconds. */
export function parseRetryAfter(value: string | null | undefined, nowMs: number = Date.now()): number | undefined {
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return Math.round(seconds * 1000);
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}
