import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS } from './limits.js';
import { checkJsonValue, utf8Length } from './validate.js';

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

describe('checkJsonValue', () => {
  const reason = (v: unknown) => checkJsonValue(v, 'context', DEFAULT_LIMITS)?.reason;

  it('names the path to what it refuses', () => {
    expect(reason({ a: { b: [1, 2, Number.NaN] } })).toBe('context.a.b[2] is not a finite number');
    expect(reason({ list: [{ x: 'ok' }, { y: '\ud800' }] })).toBe(
      'context.list[1].y contains an unpaired UTF-16 surrogate',
    );
    expect(reason(JSON.parse('{"page":{"__proto__":{"admin":true}}}'))).toBe(
      'context.page has the key "__proto__", which is not allowed because it can alter object prototypes',
    );
    let deep: unknown = 1;
    for (let i = 0; i < DEFAULT_LIMITS.maxDepth + 1; i++) deep = [deep];
    expect(reason(deep)).toBe(
      `context${'[0]'.repeat(DEFAULT_LIMITS.maxDepth)} is nested deeper than ${DEFAULT_LIMITS.maxDepth} levels`,
    );
    expect(reason({ fine: [1, 'two', null, true, { three: 3 }] })).toBeUndefined();
  });
});
