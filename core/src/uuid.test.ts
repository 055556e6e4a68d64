import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { uuidv7, uuidv7Time } from './uuid.js';

const V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('uuidv7', () => {
  it('encodes the millisecond, version 7 and the RFC variant', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 48 - 1 }), (ms) => {
        const id = uuidv7(ms);
        expect(id).toMatch(V7);
        expect(uuidv7Time(id)).toBe(ms);
      }),
    );
  });

  it('puts a counter given as randA in the 12 rand_a bits, so IDs of one millisecond sort by it', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 48 - 1 }), fc.integer({ min: 0, max: 0xfff }), (ms, randA) => {
        const id = uuidv7(ms, randA);
        expect(id).toMatch(V7);
        expect(uuidv7Time(id)).toBe(ms);
        expect(Number.parseInt(id.slice(15, 18), 16)).toBe(randA);
      }),
    );
    const ids = Array.from({ length: 0x1000 }, (_, i) => uuidv7(1_700_000_000_000, i));
    expect([...ids].sort()).toEqual(ids);
  });
});
