import { describe, expect, it } from 'vitest';
import { rng as random } from '../../../bench/lib/rng.mjs';
import { OwnerIndex } from './owner-index.js';

describe('OwnerIndex', () => {
  it('agrees with a Map over random inserts, updates and deletes (growth and probe runs included)', () => {
    for (const seed of [1, 2, 3]) {
      const next = random(seed);
      const index = new OwnerIndex();
      const model = new Map<string, number>();
      const ids = Array.from(
        { length: 5000 },
        (_, i) => `0193a1b2-c3d4-7e5f-8a9b-${String(i * 7919).padStart(12, '0')}`,
      );
      for (let op = 0; op < 40_000; op++) {
        const id = ids[Math.floor(next() * ids.length)] as string;
        const r = next();
        if (r < 0.5) {
          const segment = 1 + Math.floor(next() * 50);
          index.set(id, segment);
          model.set(id, segment);
        } else if (r < 0.85) {
          expect(index.delete(id)).toBe(model.get(id) ?? -1);
          model.delete(id);
        } else {
          expect(index.get(id)).toBe(model.get(id) ?? -1);
        }
        expect(index.size).toBe(model.size);
      }
      for (const id of ids) expect(index.get(id)).toBe(model.get(id) ?? -1);
    }
  });
});
