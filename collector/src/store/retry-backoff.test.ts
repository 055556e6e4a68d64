import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { FAILURE_REPORT_INTERVAL_MS, RETRY_MAX_MS, RetryBackoff, rateLimited } from './retry-backoff.js';

describe('failure reports while a store keeps failing', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('reports the first failure at once, then one line per interval that counts the others', async () => {
    const lines: string[] = [];
    const report = rateLimited((m) => lines.push(m));
    // A retry every 13 ms wrote 766 lines in 10 s.
    for (let i = 0; i < 800; i++) {
      report('database or disk is full');
      await vi.advanceTimersByTimeAsync(13);
    }
    expect(lines).toEqual([
      'database or disk is full',
      'database or disk is full (and 769 more failures since the last report)',
    ]);
    await vi.advanceTimersByTimeAsync(FAILURE_REPORT_INTERVAL_MS);
    report('database or disk is full');
    expect(lines).toHaveLength(3);
    expect(lines[2]).toBe('database or disk is full (and 29 more failures since the last report)');
  });

  it('pauses 50 ms after a failure, doubling up to the cap, and not at all after a success', () => {
    const backoff = new RetryBackoff();
    expect(backoff.waitMs(0)).toBe(0);
    const pauses = Array.from({ length: 9 }, () => backoff.failed(0));
    expect(pauses).toEqual([50, 100, 200, 400, 800, 1600, 3200, RETRY_MAX_MS, RETRY_MAX_MS]);
    expect(backoff.waitMs(1000)).toBe(RETRY_MAX_MS - 1000);
    backoff.succeeded();
    expect(backoff.waitMs(0)).toBe(0);
    expect(backoff.failed(0)).toBe(50);
  });
});
