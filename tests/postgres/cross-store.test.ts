import { afterAll, beforeAll, expect, it } from 'vitest';
import { sendBatch, startTestCollector, type TestCollector } from '../helpers/collector.js';
import { type Ev, rng, shuffle } from '../helpers/population.js';
import { describePostgres, postgresTestUrl } from '../helpers/stores.js';

const T0 = Date.parse('2026-03-01T00:00:00.000Z');

/**
 * People with several devices, shared devices, contested emails, aliases, trait changes and
 * tombstones, over `spanMs` (a short span puts many events in the same millisecond).
 */
function richPopulation(seed: number, persons: number, events: number, spanMs: number, tag: string): Ev[] {
  const rand = rng(seed);
  const pick = <T>(xs: T[]) => xs[Math.floor(rand() * xs.length)] as T;
  const people = Array.from({ length: persons }, (_, i) => ({
    user: `${tag}user-${i}`,
    email: rand() < 0.8 ? `${tag}p${i}@example.com` : null,
    devices: Array.from({ length: 1 + Math.floor(rand() * 3) }, (_, d) => `${tag}dev-${i}-${d}`),
  }));
  const out: Ev[] = [];
  for (let n = 0; n < events; n++) {
    const p = pick(people);
    const other = pick(people);
    const device = pick(p.devices);
    const base = {
      messageId: `${tag}x-${n}`,
      timestamp: new Date(T0 + Math.floor(rand() * spanMs)).toISOString(),
    };
    const r = rand();
    const plan = pick(['free', 'pro', null]);
    if (r < 0.4) out.push({ ...base, type: 'track', anonymousId: device, event: 'Viewed' });
    else if (r < 0.55) out.push({ ...base, type: 'identify', anonymousId: device, userId: p.user, traits: { plan } });
    else if (r < 0.65 && p.email)
      out.push({ ...base, type: 'identify', anonymousId: device, traits: { email: p.email, $set_once: { first: n } } });
    else if (r < 0.72) out.push({ ...base, type: 'identify', anonymousId: device, userId: other.user });
    else if (r < 0.76 && other.email)
      out.push({ ...base, type: 'identify', userId: p.user, traits: { email: other.email } });
    else if (r < 0.8) out.push({ ...base, type: 'alias', previousId: device, userId: p.user });
    else if (r < 0.85)
      out.push({ ...base, type: 'page', anonymousId: device, name: 'Home', properties: { path: '/' } });
    else
      out.push({
        ...base,
        type: 'track',
        userId: p.user,
        event: 'Server Side',
        context: { traits: { city: pick(['Izmir', 'Ankara']) } },
      });
  }
  return out;
}

async function send(c: TestCollector, events: Ev[], rand: () => number) {
  const auth = `Basic ${Buffer.from(`${c.writeKey}:`).toString('base64')}`;
  const order = shuffle([...events], rand);
  for (let i = 0; i < order.length; ) {
    const size = 1 + Math.floor(rand() * 200);
    const res = await fetch(`${c.url}/v1/batch`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: auth },
      body: JSON.stringify({ batch: order.slice(i, i + size) }),
    });
    expect(res.status).toBe(200);
    i += size;
  }
}

/** Every identifier's profile as store-independent facts: its identifiers, traits, event ids. */
async function profiles(c: TestCollector, identifiers: Iterable<string>) {
  const get = async (path: string) => {
    const res = await fetch(`${c.url}${path}`, { headers: { authorization: `Bearer ${c.adminKey}` } });
    expect(res.status, path).toBe(200);
    return (await res.json()) as Record<string, any>;
  };
  const out = new Map<string, string>();
  for (const id of identifiers) {
    const sep = id.indexOf(':');
    const p = await get(`/v1/profiles?${id.slice(0, sep)}=${encodeURIComponent(id.slice(sep + 1))}`);
    const events = (await get(`/v1/profiles/${p.id}/events?limit=1000`)).events as { messageId: string }[];
    const ids = (p.identifiers as { type: string; value: string }[]).map((i) => `${i.type}:${i.value}`).sort();
    out.set(
      id,
      JSON.stringify({ ids, traits: p.traits, events: events.map((e) => e.messageId).sort(), count: p.eventCount }),
    );
  }
  return out;
}

/**
 * 60 people, each with a phone of their own; each logs in on the kiosk at some point, and the
 * backend sends their purchases with anonymousId "server". Both devices end past a limit of 30.
 */
function hubStory(): Ev[] {
  const rand = rng(5);
  const events: Ev[] = [];
  let n = 0;
  const at = () => new Date(T0 + Math.floor(rand() * 86_400_000)).toISOString();
  for (let i = 0; i < 60; i++) {
    const base = () => ({ messageId: `hub-${n++}`, timestamp: at() });
    const user = `hub-user-${i}`;
    events.push({ ...base(), type: 'identify', anonymousId: `hub-phone-${i}`, userId: user });
    events.push({ ...base(), type: 'identify', anonymousId: 'kiosk', userId: user, traits: { email: `h${i}@ex.com` } });
    events.push({ ...base(), type: 'track', anonymousId: 'kiosk', event: 'Viewed' });
    events.push({ ...base(), type: 'track', anonymousId: 'server', userId: user, event: 'Bought' });
  }
  return events;
}
const HUB_LIMITS = { maxProfileIdentifiers: 10, maxClusterIdentifiers: 30 };
const hubIdentifiers = () => {
  const ids = new Set<string>(['anonymousId:kiosk', 'anonymousId:server']);
  for (let i = 0; i < 60; i++) ids.add(`userId:hub-user-${i}`).add(`anonymousId:hub-phone-${i}`);
  return ids;
};

/** Asserts that every collector gives each identifier the same profile as the first; answers the first's. */
async function sameProfiles(collectors: TestCollector[], identifiers: Set<string>) {
  const [first, ...others] = await Promise.all(collectors.map((c) => profiles(c, identifiers)));
  for (const other of others) for (const id of identifiers) expect(other.get(id), id).toBe(first?.get(id));
  return first as Map<string, string>;
}

describePostgres('SQLite and PostgreSQL agree', () => {
  let sqlite: TestCollector;
  let postgres: TestCollector;
  beforeAll(async () => {
    [sqlite, postgres] = await Promise.all([
      startTestCollector({}),
      startTestCollector({ database: postgresTestUrl() }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([sqlite.close(), postgres.close()]);
  });

  it.each([
    ['over a day', 86_400_000],
    // Ten events per millisecond: a device reassigned twice in one stopped identity on PostgreSQL.
    ['over a fifth of a second', 200],
  ])(
    'the same events in different orders and batches give the same profiles on both stores (%s)',
    async (_, spanMs) => {
      const events = richPopulation(11, 80, 2000, spanMs, `s${spanMs}-`);
      await send(sqlite, events, rng(1));
      await send(postgres, events, rng(2));
      const identifiers = new Set<string>();
      for (const e of events) {
        if (e.anonymousId) identifiers.add(`anonymousId:${e.anonymousId}`);
        if (e.userId) identifiers.add(`userId:${e.userId}`);
      }
      const [a, b] = [await profiles(sqlite, identifiers), await profiles(postgres, identifiers)];
      for (const id of identifiers) expect(b.get(id), id).toBe(a.get(id));
    },
    120_000,
  );

  it("hubs (a kiosk, a backend's fixed anonymousId): the same profiles on both stores, whatever the order and batches", async () => {
    const events = hubStory();
    const collectors = await Promise.all([
      startTestCollector(HUB_LIMITS),
      startTestCollector({ ...HUB_LIMITS, database: postgresTestUrl() }),
      startTestCollector(HUB_LIMITS),
    ]);
    try {
      const [one, two, whole] = collectors as [TestCollector, TestCollector, TestCollector];
      await send(one, events, rng(3));
      await send(two, events, rng(4));
      // One request holding every event: each cluster is replayed once, with all its links.
      await sendBatch(whole, events);
      const a = await sameProfiles([one, two, whole], hubIdentifiers());
      expect(JSON.parse(a.get('anonymousId:kiosk') as string).ids).toEqual(['anonymousId:kiosk']);
      expect(JSON.parse(a.get('userId:hub-user-7') as string).ids).toEqual([
        'anonymousId:hub-phone-7',
        'email:h7@ex.com',
        'userId:hub-user-7',
      ]);
    } finally {
      await Promise.all(collectors.map((x) => x.close()));
    }
  }, 120_000);

  it('hubs: two collectors on one PostgreSQL database, taking the events at random, agree with SQLite', async () => {
    // Both collectors link people to the kiosk at once: the crossing must be seen whichever commits last.
    const events = hubStory();
    const database = postgresTestUrl();
    const rand = rng(9);
    const halves: [Ev[], Ev[]] = [[], []];
    for (const e of events) halves[rand() < 0.5 ? 0 : 1].push(e);
    const [one, two, whole] = await Promise.all([
      startTestCollector({ ...HUB_LIMITS, database }),
      startTestCollector({ ...HUB_LIMITS, database }),
      startTestCollector(HUB_LIMITS),
    ]);
    try {
      await Promise.all([send(one, halves[0], rng(10)), send(two, halves[1], rng(11))]);
      await send(whole, events, rng(12));
      await sameProfiles([whole, one, two], hubIdentifiers());
    } finally {
      await whole.close();
      await two.close();
      await one.close();
    }
  }, 120_000);
});
