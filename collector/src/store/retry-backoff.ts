/** The first pause after a failure; each failure in a row doubles it… */
export const RETRY_FIRST_MS = 50;
/** …up to this. */
export const RETRY_MAX_MS = 5_000;
/** A failure repeating meanwhile is counted, and reported at most once per this long. */
export const FAILURE_REPORT_INTERVAL_MS = 10_000;

/**
 * When work that failed (an identity batch: the database full, down, refusing) may be tried again:
 * after a pause doubling with each failure in a row, reset by a success. Without it, a batch that
 * fails at once was retried every ~13 ms, a core's fifth and an error line each time.
 */
export class RetryBackoff {
  private delayMs = 0;
  private retryAt = 0;

  /** Records a failure; answers the pause before the next try. */
  failed(now = performance.now()): number {
    this.delayMs = this.delayMs === 0 ? RETRY_FIRST_MS : Math.min(RETRY_MAX_MS, this.delayMs * 2);
    this.retryAt = now + this.delayMs;
    return this.delayMs;
  }

  succeeded(): void {
    this.delayMs = 0;
    this.retryAt = 0;
  }

  /** Milliseconds until the next try may run; 0 when it may run now. */
  waitMs(now = performance.now()): number {
    return Math.max(0, this.retryAt - now);
  }
}

/**
 * Wraps `report`: the first failure is reported at once, then at most one per `intervalMs`, which
 * says how many were not reported since the last one. A store failing for minutes writes a line
 * every 10 s, not one per retry.
 */
export function rateLimited(
  report: (message: string) => void,
  intervalMs = FAILURE_REPORT_INTERVAL_MS,
): (message: string) => void {
  let reportedAt = Number.NEGATIVE_INFINITY;
  let unreported = 0;
  return (message) => {
    const now = Date.now();
    if (now - reportedAt < intervalMs) {
      unreported++;
      return;
    }
    reportedAt = now;
    const more = unreported;
    unreported = 0;
    report(more === 0 ? message : `${message} (and ${more} more failures since the last report)`);
  };
}
