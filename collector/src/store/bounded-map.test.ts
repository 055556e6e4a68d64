import { describe, expect, it } from 'vitest';
import { BoundedMap } from './bounded-map.js';

describe('BoundedMap', () => {
  it('never holds more than its limit', () => {
    const m = new BoundedMap<number, number>(100);
    for (let i = 0; i < 10_000; i++) m.set(i, i);
    expect(m.size).toBeLessThanOrEqual(100);
    expect(m.get(9_999)).toBe(9_999);
  });

  it('keeps the entries in use while new ones stream through, where starting over lost them', () => {
    const m = new BoundedMap<string, number>(100);
    const hot = ['a', 'b', 'c'];
    for (const k of hot) m.set(k, 1);
    let misses = 0;
    for (let i = 0; i < 5_000; i++) {
      m.set(`cold-${i}`, i);
      for (const k of hot) {
        if (m.get(k) === undefined) {
          misses++;
          m.set(k, 1);
        }
      }
    }
    expect(misses).toBe(0);
  });

  it('deletes an entry from whichever generation holds it', () => {
    const m = new BoundedMap<number, string>(10);
    for (let i = 0; i < 7; i++) m.set(i, `v${i}`); // 0–4 are the old generation now
    m.delete(1);
    m.delete(6);
    expect([m.get(1), m.get(6), m.get(2), m.get(5)]).toEqual([undefined, undefined, 'v2', 'v5']);
  });

  it('forgets an entry not used for a whole generation', () => {
    const m = new BoundedMap<number, string>(10);
    m.set(1, 'one');
    for (let i = 100; i < 110; i++) m.set(i, 'x');
    expect(m.get(1)).toBeUndefined();
  });

  it('answers the newest value of a key set again', () => {
    const m = new BoundedMap<string, number>(4);
    m.set('k', 1);
    m.set('x', 0);
    m.set('k', 2);
    expect(m.get('k')).toBe(2);
  });
});
