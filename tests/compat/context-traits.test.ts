// RudderStack's identify calls (its browser SDK v3 among them) carry the traits in `context.traits`
// only, with no top-level `traits`: the profile must get them as it would from Segment's shape.

import { afterEach, beforeEach, expect, it } from 'vitest';
import { sendBatch, startTestCollector, type TestCollector } from '../helpers/collector.js';
import { describeStores, type TestStore } from '../helpers/stores.js';

const T0 = Date.parse('2026-01-01T00:00:00.000Z');
type Ev = Record<string, unknown>;
const ev = (type: string, minutes: number, messageId: string, fields: Ev): Ev => ({
  type,
  timestamp: new Date(T0 + minutes * 60_000).toISOString(),
  messageId,
  ...fields,
});

async function traitsOf(c: TestCollector, userId: string): Promise<Record<string, unknown>> {
  const res = await fetch(`${c.url}/v1/profiles?userId=${userId}`, {
    headers: { authorization: `Bearer ${c.adminKey}` },
  });
  const body = (await res.json()) as { traits: Record<string, unknown> };
  expect(res.status, JSON.stringify(body)).toBe(200);
  return body.traits;
}

describeStores('identify traits from context.traits', (store: TestStore) => {
  let c: TestCollector;
  beforeEach(async () => {
    c = await startTestCollector({ database: store.database() });
  });
  afterEach(async () => {
    await c.close();
  });

  it("an identify with traits only in context.traits (RudderStack's shape) sets them on the profile", async () => {
    await sendBatch(c, [
      ev('identify', 1, 'm1', {
        userId: 'rs-u1',
        anonymousId: 'rs-a1',
        context: { traits: { email: 'RS@Example.com', plan: 'pro' }, library: { name: 'RudderLabs JavaScript SDK' } },
      }),
    ]);
    expect(await traitsOf(c, 'rs-u1')).toEqual({ email: 'RS@Example.com', plan: 'pro' });
  });

  it('when an identify has both, top-level traits win per key and the other context.traits keys are kept', async () => {
    await sendBatch(c, [
      ev('identify', 1, 'm1', {
        userId: 'rs-u2',
        traits: { plan: 'pro', city: null },
        context: { traits: { plan: 'free', city: 'Izmir', seats: 3, $set_once: { source: 'ads' } } },
      }),
    ]);
    expect(await traitsOf(c, 'rs-u2')).toEqual({ plan: 'pro', seats: 3, source: 'ads' });
  });

  it("a track's context.traits (analytics.js copies cached traits there on every call) writes no trait", async () => {
    await sendBatch(c, [
      ev('identify', 1, 'm1', { userId: 'rs-u3', context: { traits: { plan: 'pro' } } }),
      ev('track', 2, 'm2', { userId: 'rs-u3', event: 'Viewed', context: { traits: { plan: 'stale', extra: 1 } } }),
      ev('page', 3, 'm3', { userId: 'rs-u3', name: 'Home', context: { traits: { plan: 'stale' } } }),
    ]);
    expect(await traitsOf(c, 'rs-u3')).toEqual({ plan: 'pro' });
  });

  it('traits from context.traits depend on the set of identify calls, not their arrival order', async () => {
    const story = [
      ev('identify', 10, 'm1', { userId: 'rs-u4', context: { traits: { plan: 'pro', city: 'Bursa' } } }),
      ev('identify', 5, 'm2', { userId: 'rs-u4', traits: { plan: 'free' }, context: { traits: { seats: 2 } } }),
      ev('identify', 20, 'm3', { userId: 'rs-u4', traits: { city: 'Izmir' }, context: { traits: { city: 'Ankara' } } }),
    ];
    const found: Record<string, unknown>[] = [];
    for (const order of [
      [0, 1, 2],
      [2, 1, 0],
      [1, 2, 0],
    ]) {
      const other = await startTestCollector({ database: store.database() });
      try {
        for (const i of order) await sendBatch(other, [story[i] as Ev]);
        found.push(await traitsOf(other, 'rs-u4'));
      } finally {
        await other.close();
      }
    }
    expect(found).toEqual([0, 1, 2].map(() => ({ plan: 'pro', city: 'Izmir', seats: 2 })));
  });

  it("an email context.traits names and traits overrides is no identifier: it stays its owner's", async () => {
    await sendBatch(c, [
      ev('identify', 1, 'm1', {
        userId: 'ce-u1',
        anonymousId: 'ce-a1',
        traits: { email: 'new@x.io' },
        context: { traits: { email: 'old@x.io' } },
      }),
      ev('identify', 2, 'm2', { userId: 'ce-u2', traits: { email: 'old@x.io' } }),
      // A null in traits names the key too: no email from context.traits either.
      ev('identify', 3, 'm3', { userId: 'ce-u3', traits: { email: null }, context: { traits: { email: 'new@x.io' } } }),
    ]);
    const profile = async (q: string) => {
      const res = await fetch(`${c.url}/v1/profiles?${q}`, { headers: { authorization: `Bearer ${c.adminKey}` } });
      return (await res.json()) as { id: string; identifiers: { type: string; value: string }[] };
    };
    const emails = async (userId: string) =>
      (await profile(`userId=${userId}`)).identifiers.filter((i) => i.type === 'email').map((i) => i.value);
    expect(await emails('ce-u1')).toEqual(['new@x.io']);
    expect(await emails('ce-u2')).toEqual(['old@x.io']);
    expect(await emails('ce-u3')).toEqual([]);
  });
});
