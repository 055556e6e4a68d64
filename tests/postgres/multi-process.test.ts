import pg from 'pg';
import { afterEach, expect, it } from 'vitest';
import { parsePostgresUrl } from '../../collector/src/store/postgres/connection.js';
import {
  ADMIN_KEY,
  type CollectorProcess,
  fetchStoredEvents,
  spawnCollector,
  startTestCollector,
  WRITE_KEY,
} from '../helpers/collector.js';
import { partition, population, reference, rng, shuffle, storedOwners } from '../helpers/population.js';
import { describePostgres, dropTestDatabase, postgresTestUrl } from '../helpers/stores.js';
import { batches, lanes, sendBatch } from './load.js';

const T0 = Date.parse('2026-03-01T00:00:00.000Z');

const running: CollectorProcess[] = [];
const schemas: string[] = [];
afterEach(async () => {
  for (const p of running.splice(0)) {
    if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGTERM');
    await p.exited;
  }
  for (const s of schemas.splice(0)) await dropTestDatabase(s);
});

async function collectors(n: number): Promise<{ database: string; procs: CollectorProcess[] }> {
  const database = postgresTestUrl('kmp');
  schemas.push(database);
  // Started together: they race for the migration lock on an empty schema.
  const procs = await Promise.all(
    Array.from({ length: n }, () => spawnCollector({ KIMLIK_DATABASE: database, KIMLIK_POSTGRES_POOL_MAX: '4' })),
  );
  running.push(...procs);
  return { database, procs };
}

describePostgres('several collector processes on one PostgreSQL', () => {
  it('4 processes, 20 000 events over 2 000 persons dispatched at random: same partition as one process, nothing lost or duplicated, no 5xx', async () => {
    const events = population(2026, 2000, 20_000, T0);
    const { procs } = await collectors(4);
    const rand = rng(7);
    const work = batches(shuffle(events, rand), 40);
    // A tenth of the batches is sent twice, to another process, at the same time: a client retry racing.
    const repeats = work.filter(() => rand() < 0.1);
    const jobs = shuffle([...work, ...repeats], rand).map((batch) => ({ batch, proc: Math.floor(rand() * 4) }));
    const statuses = new Map<number, number>();
    let stored = 0;
    await lanes(jobs, 16, async ({ batch, proc }) => {
      for (let attempt = 0; ; attempt++) {
        const r = await sendBatch((procs[(proc + attempt) % 4] as CollectorProcess).url, WRITE_KEY, batch);
        statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
        if (r.status === 200) {
          stored += (r.body?.accepted ?? 0) - (r.body?.duplicates ?? 0);
          return;
        }
        // 429 is the documented back-pressure; anything else fails the test below.
        if (r.status !== 429 || attempt > 50) return;
        await new Promise((res) => setTimeout(res, 50));
      }
    });
    expect([...statuses.keys()].filter((s) => s !== 200 && s !== 429)).toEqual([]);
    expect(stored).toBe(events.length);

    const all = await fetchStoredEvents((procs[1] as CollectorProcess).url, ADMIN_KEY);
    const ids = all.map((e) => e.messageId as string);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.length).toBe(events.length);

    const expected = partition(reference(events));
    const owners = await storedOwners((procs[2] as CollectorProcess).url, ADMIN_KEY, reference(events).keys());
    expect(partition(owners)).toEqual(expected);

    // The same events through one in-process collector, in order, on a schema of its own.
    const single = await startTestCollector({ database: postgresTestUrl('ksp') });
    try {
      for (const batch of batches(events, 250))
        expect((await sendBatch(single.url, WRITE_KEY, batch)).status).toBe(200);
      const one = await storedOwners(single.url, ADMIN_KEY, reference(events).keys());
      expect(partition(owners)).toEqual(partition(one));
    } finally {
      await single.close();
    }
  }, 300_000);

  it('a profile read on one collector sees what another acknowledged just before (read-your-writes)', async () => {
    const { procs } = await collectors(2);
    const [a, b] = procs as [CollectorProcess, CollectorProcess];
    for (let n = 0; n < 20; n++) {
      const t = new Date(T0 + n).toISOString();
      const batch = [
        { type: 'track', messageId: `v-${n}`, anonymousId: `dev-${n}`, event: 'Viewed', timestamp: t },
        { type: 'identify', messageId: `i-${n}`, anonymousId: `dev-${n}`, userId: `user-${n}`, timestamp: t },
        {
          type: 'identify',
          messageId: `e-${n}`,
          userId: `user-${n}`,
          traits: { email: `p${n}@example.com` },
          timestamp: t,
        },
      ];
      expect((await sendBatch(a.url, WRITE_KEY, batch)).status).toBe(200);
      const res = await fetch(`${b.url}/v1/profiles?anonymousId=dev-${n}`, {
        headers: { authorization: `Bearer ${ADMIN_KEY}` },
      });
      expect(res.status).toBe(200);
      const body = (await res.json()) as { identifiers: { type: string }[]; eventCount: number };
      expect(body.identifiers.map((i) => i.type).sort()).toEqual(['anonymousId', 'email', 'userId']);
      expect(body.eventCount).toBe(3);
    }
  }, 60_000);

  it('kill -9 of one collector mid-load: every event it answered 200 is stored, and its identity applied', async () => {
    const { database, procs } = await collectors(2);
    const [victim, survivor] = procs as [CollectorProcess, CollectorProcess];
    const events = population(99, 500, 40_000, T0);
    const acked = new Set<string>();
    let killed = false;
    const work = batches(events, 50);
    const sending = lanes(
      work.map((batch, i) => ({ batch, proc: i % 2 === 0 ? victim : survivor })),
      8,
      async ({ batch, proc }) => {
        if (killed && proc === victim) return;
        const r = await sendBatch(proc.url, WRITE_KEY, batch);
        if (r.status === 200) for (const e of batch) acked.add(e.messageId as string);
      },
    );
    const deadline = Date.now() + 60_000;
    while (acked.size < 4000 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    victim.child.kill('SIGKILL');
    killed = true;
    await sending;
    expect((await victim.exited).signal).toBe('SIGKILL');
    expect(acked.size).toBeGreaterThan(4000);

    const storedEvents = await fetchStoredEvents(survivor.url, ADMIN_KEY);
    const stored = new Set(storedEvents.map((e) => e.messageId as string));
    expect([...acked].filter((id) => !stored.has(id))).toEqual([]);

    // The victim's events that were committed but not yet applied: the survivor's sweep applies
    // them without any read asking (bounded wait).
    const { connectionString, schema } = parsePostgresUrl(database);
    const db = new pg.Client({ connectionString, options: `-c search_path=${schema}` });
    await db.connect();
    try {
      const left = async () =>
        (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM identity_pending')).rows[0]?.n;
      const deadline = Date.now() + 30_000;
      while ((await left()) !== 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
      expect(await left()).toBe(0);
    } finally {
      await db.end();
    }
    // Profiles are those of the stored events, whichever collector applied them.
    const expected = partition(reference(storedEvents));
    const owners = await storedOwners(survivor.url, ADMIN_KEY, reference(storedEvents).keys());
    expect(partition(owners)).toEqual(expected);
  }, 180_000);
});
