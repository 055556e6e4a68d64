import { expect, it } from 'vitest';
import { backoffDelayMs, parseRetryAfter } from './backoff.js';

const backoff = { baseMs: 200, maxMs: 30_000 };

it('honours a Retry-After longer than the backoff ceiling', () => {
  expect(backoffDelayMs(0, backoff, parseRetryAfter('120'), () => 0.5)).toBe(120_000);
});

it('honours a Retry-After up to 1e9 ms: a timer past 2^31 - 1 ms fires at once (a browser or Node would retry in a loop)', () => {
  expect(backoffDelayMs(0, backoff, parseRetryAfter('99999999'), () => 0.5)).toBe(1e9);
  expect(backoffDelayMs(0, backoff, parseRetryAfter('Fri, 01 Jan 2100 00:00:00 GMT', 0), () => 0.5)).toBe(1e9);
});
