import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCollector, type TestCollector } from '../../../tests/helpers/collector.js';
import {
  type Ev,
  partition,
  population,
  reference,
  rng,
  shuffle,
  storedOwners,
} from '../../../tests/helpers/population.js';
import { describeStores } from '../../../tests/helpers/stores.js';

/**
 * Order independence through HTTP on every store (SQLite, PostgreSQL): profiles are a function of the set of events,
 * never of their arrival order.
 */
const T0 = Date.parse('2026-02-01T00:00:00.000Z');

function client(c: TestCollector) {
  const auth = `Basic ${Buffer.from(`${c.writeKey}:`).toString('base64')}`;
  return {
    async send(batch: Ev[]) {
      const res = await fetch(`${c.url}/v1/batch`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: auth },
        body: JSON.stringify({ batch }),
      });
      expect(res.status).toBe(200);
    },
    async get(path: string) {
      const res = await fetch(`${c.url}${path}`, { headers: { authorization: `Bearer ${c.adminKey}` } });
      return { status: res.status, body: (await res.json()) as Record<string, any> };
    },
  };
}

describeStores('order independence', (store) => {
  describe('6. every permutation of a cross-device story gives the same profiles and traits', () => {
    let c: TestCollector;
    beforeAll(async () => {
      c = await startTestCollector({ database: store.database() });
    });
    afterAll(async () => {
      await c.close();
    });

    const story = (s: string): Ev[] =>
      [
        { type: 'page', anonymousId: `A${s}`, name: 'Home', t: 1 },
        {
          type: 'identify',
          anonymousId: `A${s}`,
          userId: `u1${s}`,
          traits: { email: `ada${s}@x.io`, plan: 'free' },
          t: 2,
        },
        { type: 'page', anonymousId: `B${s}`, name: 'Pricing', t: 3 },
        { type: 'identify', anonymousId: `B${s}`, traits: { email: `ada${s}@x.io`, plan: 'pro', city: 'Izmir' }, t: 4 },
        { type: 'track', userId: `u1${s}`, event: 'Order Completed', t: 5 },
        { type: 'identify', anonymousId: `A${s}`, userId: `u2${s}`, traits: { plan: 'team' }, t: 6 },
      ].map(({ t, ...e }, i) => ({
        ...e,
        timestamp: new Date(T0 + (t as number) * 1000).toISOString(),
        messageId: `m${i}${s}`,
      }));

    const permutations = <T>(xs: T[]): T[][] =>
      xs.length <= 1
        ? [xs]
        : xs.flatMap((x, i) => permutations([...xs.slice(0, i), ...xs.slice(i + 1)]).map((p) => [x, ...p]));

    it('720 arrival orders, one result', async () => {
      const api = client(c);
      const orders = permutations([0, 1, 2, 3, 4, 5]);
      expect(orders).toHaveLength(720);
      // Each permutation uses its own identifiers (suffix), all in one collector; eight at a time.
      const run = async (order: number[], k: number) => {
        const s = `-${k}`;
        const events = story(s);
        for (const i of order) await api.send([events[i] as Ev]);
      };
      for (let k = 0; k < orders.length; k += 8) {
        await Promise.all(orders.slice(k, k + 8).map((o, j) => run(o, k + j)));
      }
      const results = new Set<string>();
      for (let k = 0; k < orders.length; k++) {
        const s = `-${k}`;
        const strip = (v: string) => v.replace(s, '');
        const view = async (type: string, value: string) => {
          const r = await api.get(`/v1/profiles?${type}=${encodeURIComponent(value)}`);
          const p = r.body;
          const events = (await api.get(`/v1/profiles/${p.id}/events?limit=100`)).body.events as Ev[];
          return {
            identifiers: (p.identifiers as { type: string; value: string }[])
              .map((i) => `${i.type}:${strip(i.value)}`)
              .sort(),
            traits: JSON.parse(strip(JSON.stringify(p.traits))),
            timeline: events.map((e) => strip(e.messageId as string)),
          };
        };
        const summary = JSON.stringify({
          u1: await view('userId', `u1${s}`),
          u2: await view('userId', `u2${s}`),
          sameAB:
            (await api.get(`/v1/profiles?anonymousId=B${s}`)).body.id ===
            (await api.get(`/v1/profiles?userId=u1${s}`)).body.id,
        });
        results.add(summary);
      }
      expect(results.size).toBe(1);
      const only = JSON.parse([...results][0] as string);
      // The story's expected outcome, written out.
      expect(only.u1.identifiers).toEqual(['anonymousId:A', 'anonymousId:B', 'email:ada@x.io', 'userId:u1']);
      expect(only.u1.traits).toEqual({ city: 'Izmir', email: 'ada@x.io', plan: 'pro' });
      expect(only.u1.timeline).toEqual(['m4', 'm3', 'm2', 'm1', 'm0']);
      expect(only.u2.identifiers).toEqual(['anonymousId:A', 'userId:u2']);
      expect(only.u2.traits).toEqual({ plan: 'team' });
      expect(only.u2.timeline).toEqual(['m5']);
      expect(only.sameAB).toBe(true);
    }, 180_000);
  });

  describe('12. random cross-device population: partition equals a reference union-find, any arrival order', () => {
    const PERSONS = 1000;
    const EVENTS = 10_000;

    it('5 random arrival orders', async () => {
      const events = population(12, PERSONS, EVENTS, T0);
      const expected = partition(reference(events));
      const rand = rng(99);
      for (let order = 0; order < 5; order++) {
        const c = await startTestCollector({ database: store.database() });
        try {
          const api = client(c);
          const shuffled = shuffle(events, rand);
          for (let i = 0; i < shuffled.length; i += 250) await api.send(shuffled.slice(i, i + 250));
          const owner = await storedOwners(c.url, c.adminKey, reference(events).keys());
          expect(partition(owner)).toEqual(expected);
        } finally {
          await c.close();
        }
      }
    }, 180_000);
  });
});
