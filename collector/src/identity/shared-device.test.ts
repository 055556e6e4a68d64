import { describe, expect, it } from 'vitest';
import type { ResolverLink } from './resolve.js';
import { isShared } from './shared-device.js';

const link = (a: number, b: number, detached = false): ResolverLink => ({ a, b, ts: a + b, messageId: 'm', detached });
/** 1 is a device; 2.. are userIds, except 3, an email. */
const types = (id: number) => ({ type: id === 1 ? 'anonymousId' : id === 3 ? 'email' : 'userId' }) as const;

describe('isShared', () => {
  it('is true once the device is linked to two userIds, through links not detached', () => {
    expect(isShared(1, types, [link(1, 2)])).toBe(false);
    expect(isShared(1, types, [link(1, 2), link(1, 3)])).toBe(false);
    expect(isShared(1, types, [link(1, 2), link(1, 4, true)])).toBe(false);
    expect(isShared(1, types, [link(1, 2), link(1, 4)])).toBe(true);
    // Only a device is shared.
    expect(isShared(2, types, [link(1, 2), link(2, 4)])).toBe(false);
  });

  it('stops at the second userId: a device with 100 000 users costs what one with two does', () => {
    let asked = 0;
    const counted = (id: number) => {
      asked++;
      return types(id);
    };
    const links = Array.from({ length: 100_000 }, (_, i) => link(1, i + 4));
    expect(isShared(1, counted, links)).toBe(true);
    expect(asked).toBeLessThanOrEqual(3);
  });
});
