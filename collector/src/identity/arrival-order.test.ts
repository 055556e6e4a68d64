import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCollector, type TestCollector } from '../../../tests/helpers/collector.js';

/**
 * Order independence through HTTP and real SQLite: profiles are a function of the set of events,
 * never of their arrival order.
 */
type Ev = Record<string, unknown>;
const T0 = Date.parse('2026-02-01T00:00:00.000Z');

/** Seeded PRNG (mulberry32) so a failure replays exactly. */
function rng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const shuffle = <T>(xs: T[], rand: () => number) => {
  const a = [...xs];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [a[i], a[j]] = [a[j] as T, a[i] as T];
  }
  return a;
};

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

describe('6. every permutation of a cross-device story gives the same profiles and traits', () => {
  let c: TestCollector;
  beforeAll(async () => {
    c = await startTestCollector();
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

  function population(seed: number) {
    const rand = rng(seed);
    const events: Ev[] = [];
    const persons = Array.from({ length: PERSONS }, (_, i) => ({
      user: `user-${i}`,
      email: rand() < 0.6 ? `person${i}@example.com` : null,
      devices: rand() < 0.3 ? [`dev-${i}-a`, `dev-${i}-b`] : [`dev-${i}-a`],
    }));
    for (let n = 0; n < EVENTS; n++) {
      const p = persons[Math.floor(rand() * PERSONS)] as (typeof persons)[number];
      const device = p.devices[Math.floor(rand() * p.devices.length)] as string;
      const r = rand();
      const base = { messageId: `ev-${n}`, timestamp: new Date(T0 + Math.floor(rand() * 86_400_000)).toISOString() };
      if (r < 0.5) events.push({ ...base, type: 'track', anonymousId: device, event: 'Viewed' });
      else if (r < 0.65) events.push({ ...base, type: 'identify', anonymousId: device, userId: p.user });
      else if (r < 0.8 && p.email)
        events.push({ ...base, type: 'identify', anonymousId: device, traits: { email: p.email } });
      else events.push({ ...base, type: 'track', userId: p.user, event: 'Server Side' });
    }
    return events;
  }

  /** Reference: plain union-find over identifiers that share an event. */
  function reference(events: Ev[]): Map<string, string> {
    const parent = new Map<string, string>();
    const find = (x: string): string => {
      if (!parent.has(x)) parent.set(x, x);
      let r = x;
      while (parent.get(r) !== r) r = parent.get(r) as string;
      parent.set(x, r);
      return r;
    };
    for (const e of events) {
      const ids: string[] = [];
      if (e.anonymousId) ids.push(`anonymousId:${e.anonymousId}`);
      if (e.userId) ids.push(`userId:${e.userId}`);
      const email = (e.traits as { email?: string } | undefined)?.email;
      if (email) ids.push(`email:${email}`);
      for (const id of ids) find(id);
      for (let i = 1; i < ids.length; i++) parent.set(find(ids[i] as string), find(ids[0] as string));
    }
    const canon = new Map<string, string>();
    for (const id of parent.keys()) canon.set(id, find(id));
    return canon;
  }

  const partition = (groups: Map<string, string>) => {
    const sets = new Map<string, string[]>();
    for (const [id, root] of groups) sets.set(root, [...(sets.get(root) ?? []), id]);
    return [...sets.values()].map((s) => s.sort().join(',')).sort();
  };

  it('5 random arrival orders', async () => {
    const events = population(12);
    const expected = partition(reference(events));
    const rand = rng(99);
    for (let order = 0; order < 5; order++) {
      const c = await startTestCollector();
      try {
        const api = client(c);
        const shuffled = shuffle(events, rand);
        for (let i = 0; i < shuffled.length; i += 250) await api.send(shuffled.slice(i, i + 250));
        const owner = new Map<string, string>();
        for (const id of reference(events).keys()) {
          if (owner.has(id)) continue;
          const sep = id.indexOf(':');
          const r = await api.get(`/v1/profiles?${id.slice(0, sep)}=${encodeURIComponent(id.slice(sep + 1))}`);
          expect(r.status, id).toBe(200);
          for (const i of r.body.identifiers as { type: string; value: string }[])
            owner.set(`${i.type}:${i.value}`, r.body.id);
        }
        expect(partition(owner)).toEqual(expected);
      } finally {
        await c.close();
      }
    }
  }, 180_000);
});
