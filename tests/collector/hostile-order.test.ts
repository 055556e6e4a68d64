import { afterEach, expect, it } from 'vitest';
import { sendBatch, startTestCollector, type TestCollector } from '../helpers/collector.js';
import { type Ev, rng, shuffle } from '../helpers/population.js';
import { describeStores } from '../helpers/stores.js';

/**
 * Order independence with what real traffic throws at identity: values that look like JSON or
 * prototype keys, blocked values, case and whitespace variants of one email, phones, aliases of
 * unknown ids, and many events in the same millisecond (where a shared device was once given two
 * owners at one time). Same events, different orders and batches, identity applied between
 * batches or all at once: the same profiles, and no event's identity fails.
 */
const T0 = Date.parse('2026-04-01T00:00:00.000Z');
const VALUES = [
  'a',
  'ada@example.com',
  ' ADA@example.com ',
  '+90 555 000 11 22',
  '__proto__',
  'constructor',
  'toString',
  'null',
  'guest',
  '0',
  '[object Object]',
  'é',
  '😀',
  'a\nb',
  '{"x":1}',
  'x'.repeat(300),
];

function hostileEvents(seed: number, n: number): Ev[] {
  const rand = rng(seed);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)] as T;
  const value = () => `${pick(VALUES)}${rand() < 0.5 ? '' : Math.floor(rand() * 6)}`;
  const out: Ev[] = [];
  for (let i = 0; i < n; i++) {
    const e: Ev = {
      type: pick(['identify', 'identify', 'track', 'alias', 'page']),
      messageId: `h-${i}`,
      // 300 ms for all of them: several events in most milliseconds.
      timestamp: new Date(T0 + Math.floor(rand() * 300)).toISOString(),
      anonymousId: `dev-${value()}`,
    };
    if (rand() < 0.6) e.userId = `u-${value()}`;
    if (e.type === 'track') e.event = 'Viewed';
    if (e.type === 'page') e.name = 'Home';
    if (e.type === 'alias') e.previousId = rand() < 0.5 ? `u-${value()}` : `dev-${value()}`;
    if (e.type === 'identify' && rand() < 0.7) {
      e.traits = { email: value(), phone: value(), plan: pick(['free', 'pro', null]) };
      if (rand() < 0.3) e.traits = { ...(e.traits as Ev), $set_once: { first: i } };
    }
    out.push(e);
  }
  return out;
}

const admin = async (c: TestCollector, path: string) => {
  const res = await fetch(`${c.url}${path}`, { headers: { authorization: `Bearer ${c.adminKey}` } });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
};

/** Each identifier's profile as store- and order-independent facts. */
async function profiles(c: TestCollector, events: Ev[]): Promise<Map<string, string>> {
  const keys = new Set(
    events.flatMap((e) => [`anonymousId=${e.anonymousId}`, ...(e.userId ? [`userId=${e.userId}`] : [])]),
  );
  const out = new Map<string, string>();
  for (const key of [...keys].sort()) {
    const [type, value] = key.split(/=(.*)/s) as [string, string];
    const { status, body } = await admin(c, `/v1/profiles?${type}=${encodeURIComponent(value)}`);
    const ids =
      status === 200
        ? (body.identifiers as { type: string; value: string }[]).map((i) => `${i.type}:${i.value}`).sort()
        : [];
    out.set(key, JSON.stringify({ status, ids, traits: body.traits, count: body.eventCount }));
  }
  return out;
}

let collectors: TestCollector[] = [];
afterEach(async () => {
  await Promise.all(collectors.map((c) => c.close()));
  collectors = [];
});

describeStores('order independence with hostile values', (store) => {
  it('three arrival orders, identity applied between batches or at once: the same profiles, no identity failure', async () => {
    const events = hostileEvents(5, 1200);
    const results: Map<string, string>[] = [];
    for (const [k, readBetween] of [
      [1, false],
      [2, true],
      [3, true],
    ] as const) {
      const c = await startTestCollector({ database: store.database(), identityTraits: ['email', 'phone'] });
      collectors.push(c);
      const order = k === 1 ? events : shuffle([...events], rng(k));
      const rand = rng(100 + k);
      for (let i = 0; i < order.length; ) {
        const size = 1 + Math.floor(rand() * 80);
        await sendBatch(c, order.slice(i, i + size));
        // A profile read applies every event sent so far: identity meets the events a few at a time.
        if (readBetween) await admin(c, '/v1/profiles?userId=none');
        i += size;
      }
      results.push(await profiles(c, events));
      expect(await (await fetch(`${c.url}/metrics`)).text()).toMatch(/^kimlik_identity_failures_total 0$/m);
    }
    const [first, ...others] = results as [Map<string, string>, ...Map<string, string>[]];
    expect([...first.values()].filter((v) => v.includes('"status":200')).length).toBeGreaterThan(100);
    for (const other of others) for (const [key, value] of first) expect(other.get(key), key).toBe(value);
  }, 120_000);
});
