import { describe, expect, it } from 'vitest';
import { InvalidOptionError } from './errors.js';
import { checkNumber, checkOneOf } from './option-checks.js';

describe('option checks', () => {
  it('accepts numbers within the bound, Infinity only where unbounded', () => {
    expect(() => checkNumber({ n: 1 }, 'n', 1, true)).not.toThrow();
    expect(() => checkNumber({ n: 0.5 }, 'n', 0)).not.toThrow();
    expect(() => checkNumber({ n: Number.POSITIVE_INFINITY }, 'n', 0, true, true)).not.toThrow();
  });

  it.each([
    [{ n: 0 }, 1, true, false, /"n": expected an integer >= 1, got 0/],
    [{ n: 1.5 }, 1, true, false, /integer/],
    [{ n: '5' }, 1, false, false, /a number >= 1, got 5/],
    [{ n: Number.NaN }, 0, false, false, /got NaN/],
    [{ n: Number.POSITIVE_INFINITY }, 1, true, false, /got Infinity/],
    [{ n: 2.5 }, 0, true, true, /an integer >= 0 or Infinity/],
  ])('rejects %o', (options, min, integer, unbounded, message) => {
    expect(() => checkNumber(options, 'n', min, integer, unbounded)).toThrow(InvalidOptionError);
    expect(() => checkNumber(options, 'n', min, integer, unbounded)).toThrow(message);
  });

  it('checkOneOf names the allowed values', () => {
    expect(() => checkOneOf({ p: 'a' }, 'p', ['a', 'b'])).not.toThrow();
    expect(() => checkOneOf({ p: 'c' }, 'p', ['a', 'b'])).toThrow(/"p": use one of 'a', 'b', got c/);
  });
});
