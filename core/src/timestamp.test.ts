import { describe, expect, it } from 'vitest';
import { parseTimestamp } from './timestamp.js';

describe('parseTimestamp', () => {
  it('reads RFC 3339 date-times with any offset', () => {
    expect(parseTimestamp('2026-11-24T04:00:00.123Z')).toBe(Date.UTC(2026, 10, 24, 4, 0, 0, 123));
    expect(parseTimestamp('2026-11-24T07:00:00+03:00')).toBe(Date.UTC(2026, 10, 24, 4));
    expect(parseTimestamp('2026-11-24T07:00:00+0300')).toBe(Date.UTC(2026, 10, 24, 4));
    expect(parseTimestamp('2026-11-23T23:30:00-04:30')).toBe(Date.UTC(2026, 10, 24, 4));
    expect(parseTimestamp('2026-11-24 04:00:00.5z')).toBe(Date.UTC(2026, 10, 24, 4, 0, 0, 500));
    expect(parseTimestamp('2026-11-24T04:00:00.123456789Z')).toBe(Date.UTC(2026, 10, 24, 4, 0, 0, 123));
    expect(parseTimestamp('2026-11-24T04:00Z')).toBe(Date.UTC(2026, 10, 24, 4));
  });

  it('reads a date-time without an offset as UTC, whatever the machine zone', () => {
    expect(parseTimestamp('2026-11-24T04:00:00')).toBe(Date.UTC(2026, 10, 24, 4));
    expect(parseTimestamp('2026-11-24')).toBe(Date.UTC(2026, 10, 24));
  });

  it("reads the unpadded months and days of Segment's own examples", () => {
    expect(parseTimestamp('2015-2-02T00:30:08.276Z')).toBe(Date.UTC(2015, 1, 2, 0, 30, 8, 276));
    expect(parseTimestamp('2015-12-2T00:30:08Z')).toBe(Date.UTC(2015, 11, 2, 0, 30, 8));
  });

  it('refuses impossible dates and times instead of rolling them over', () => {
    for (const bad of [
      '2026-02-30T00:00:00Z',
      '2025-02-29',
      '2026-13-01',
      '2026-00-10',
      '2026-04-31',
      '2026-11-24T24:00:00Z',
      '2026-11-24T12:60:00Z',
      '2026-11-24T12:00:60Z',
      '2026-11-24T12:00:00+24:00',
    ]) {
      expect(parseTimestamp(bad), bad).toBeNull();
    }
    expect(parseTimestamp('2024-02-29T00:00:00Z')).toBe(Date.UTC(2024, 1, 29));
  });

  it('refuses loose formats Date.parse would take', () => {
    for (const bad of [
      'Tue Nov 24 2026',
      '11/24/2026',
      '2026',
      '1764000000000',
      '',
      ' 2026-11-24',
      '2026-11-24T4:00Z',
    ]) {
      expect(parseTimestamp(bad), bad).toBeNull();
    }
  });

  it('reads what Date#toISOString writes, for any year from 0 to 9999', () => {
    // The canonical form has its own fast path: it must agree with Date everywhere.
    const span = Date.UTC(9999, 11, 31) - Date.UTC(0, 0, 1);
    const year0 = new Date(0).setUTCFullYear(0, 0, 1);
    for (let i = 0; i < 5_000; i++) {
      const ms = year0 + Math.floor(Math.random() * span);
      expect(parseTimestamp(new Date(ms).toISOString())).toBe(ms);
    }
    expect(parseTimestamp('0099-12-31T23:59:59.999Z')).toBe(new Date(0).setUTCFullYear(100, 0, 1) - 1);
    expect(parseTimestamp('2026-02-30T00:00:00.000Z')).toBeNull();
    expect(parseTimestamp('2026-11-24T04:00:00.1x3Z')).toBeNull();
  });
});
