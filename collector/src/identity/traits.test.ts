import { describe, expect, it } from 'vitest';
import { rng as seeded } from '../../../bench/lib/rng.mjs';
import { currentTraits, foldTraits, type TraitWrite } from './traits.js';

describe('currentTraits', () => {
  it("is the fold's traits, for writes with ties, removals and $set_once in any order", () => {
    const random = seeded(7);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)] as T;
    for (let run = 0; run < 500; run++) {
      const writes: TraitWrite[] = Array.from({ length: 1 + Math.floor(random() * 12) }, () => ({
        ts: pick([1, 2, 3]),
        messageId: pick(['a', 'b', '\u{1F600}', '\uE000']),
        key: pick(['plan', 'email', 'seats']),
        value: pick([null, '"pro"', '"free"', '3']),
        setOnce: random() < 0.4,
      }));
      expect(currentTraits(writes)).toEqual(foldTraits(writes).traits);
    }
  });
});
