import { MAX_TIMER_MS, type Scheduler } from '@kimlik/core';

/**
 * Timers that do not hold the process open unless someone awaits them: a flush interval or a
 * retry nobody waits for must not keep a CLI or a serverless invocation alive.
 */
export const nodeScheduler: Scheduler = {
  setTimeout(callback, ms, keepAlive) {
    if (ms > MAX_TIMER_MS) return undefined;
    const timer = setTimeout(callback, ms);
    if (!keepAlive) timer.unref();
    return timer;
  },
  clearTimeout(handle) {
    clearTimeout(handle as NodeJS.Timeout);
  },
  now: () => Date.now(),
  // After the promise callbacks of this tick, before timers: a receipt awaited now is sent now.
  soon(callback) {
    setImmediate(callback);
  },
};
