import type { KimlikError } from '@kimlik/core';

const WINDOW_MS = 5000;
let windowStart = 0;
let suppressed = 0;

/**
 * Without an `onError`, failures become process warnings (stderr), at most one per 5 s with a
 * count of the ones held back, so a drop storm does not flood the log yet nothing is silent.
 */
export function defaultOnError(error: KimlikError): void {
  const now = Date.now();
  if (now - windowStart < WINDOW_MS) {
    suppressed++;
    return;
  }
  const extra = suppressed > 0 ? ` (${suppressed} similar errors in the last ${WINDOW_MS / 1000} s not shown)` : '';
  windowStart = now;
  suppressed = 0;
  process.emitWarning(`${error.message}${extra}`, { code: error.code, type: 'KimlikWarning' });
}

export function defaultOnWarn(message: string, error?: KimlikError): void {
  process.emitWarning(message, { code: error?.code ?? 'KIMLIK_WARNING', type: 'KimlikWarning' });
}
