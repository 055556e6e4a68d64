import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { utf8Length } from './validate.js';

const encoded = (s: string) => new TextEncoder().encode(s).length;

describe('utf8Length', () => {
  it('counts 4 bytes for a surrogate pair and 3 for a lone surrogate (written as U+FFFD)', () => {
    expect(utf8Length('🎉')).toBe(4);
    expect(utf8Length('Çağrı 🎉')).toBe(encoded('Çağrı 🎉'));
    expect(utf8Length('\ud83c')).toBe(3);
    expect(utf8Length('\ud83cx')).toBe(4);
    expect(utf8Length('\udf89\ud83c')).toBe(6);
  });

  it('matches TextEncoder for any sequence of UTF-16 units', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 0xffff }), { maxLength: 40 }), (units) => {
        const s = String.fromCharCode(...units);
        expect(utf8Length(s)).toBe(encoded(s));
      }),
      { numRuns: 2000 },
    );
  });
});
