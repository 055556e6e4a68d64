import type { KimlikError } from '@kimlik/core';

const WINDOW_MS = 5000;
const TYPE = 'KimlikWarning';
let windowStart = 0;
let held = 0;
let last: KimlikError | undefined;
let timer: NodeJS.Timeout | undefined;

/**
 * Without an `onError`, failures become process warnings (stderr), at most one per 5 s, so a drop
 * storm does not flood the log. Those held back are told when the window ends, or at shutdown
 * (`tellHeldErrors`), whichever is first: the last failures of a process (events lost at its
 * shutdown) are never silent.
 */
export function defaultOnError(error: KimlikError): void {
  const now = Date.now();
  if (now - windowStart < WINDOW_MS) {
    held++;
    last = error;
    // unref'd: it must not keep the process alive, which is why shutdown tells them too.
    timer ??= setTimeout(tellHeldErrors, windowStart + WINDOW_MS - now).unref();
    return;
  }
  windowStart = now;
  process.emitWarning(error.message, { code: error.code, type: TYPE });
}

/** Tells the errors held back by the rate limit, if any, in one warning. */
export function tellHeldErrors(): void {
  clearTimeout(timer);
  timer = undefined;
  if (!last) return;
  const [count, error] = [held, last];
  held = 0;
  last = undefined;
  windowStart = Date.now();
  const more = count > 1 ? `${count} more errors within ${WINDOW_MS / 1000} s, the last: ` : '';
  process.emitWarning(`${more}${error.message}`, { code: error.code, type: TYPE });
}

export function defaultOnWarn(message: string, error?: KimlikError): void {
  process.emitWarning(message, { code: error?.code ?? 'KIMLIK_WARNING', type: TYPE });
}
