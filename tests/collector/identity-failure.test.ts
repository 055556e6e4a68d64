import Database from 'better-sqlite3';
import pg from 'pg';
import { afterEach, expect, it } from 'vitest';
import { sendBatch, startTestCollector, type TestCollector } from '../helpers/collector.js';
import { describeStores, type TestStore } from '../helpers/stores.js';

let c: TestCollector | undefined;
afterEach(async () => {
  await c?.close();
  c = undefined;
});

const t = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s)).toISOString();

/** SQL on the collector's database from a connection of the test's own (another process would do the same). */
async function connect(store: TestStore, database: string) {
  if (store.name === 'sqlite') {
    const db = new Database(database);
    return {
      exec: async (sql: string) => void db.exec(sql),
      rows: async (sql: string) => db.prepare(sql).all(),
      close: async () => db.close(),
    };
  }
  const url = new URL(database);
  const schema = url.searchParams.get('schema') as string;
  url.searchParams.delete('schema');
  const client = new pg.Client({ connectionString: url.toString() });
  await client.connect();
  await client.query(`SET search_path = ${schema}`);
  return {
    exec: async (sql: string) => void (await client.query(sql)),
    rows: async (sql: string) => (await client.query(sql)).rows,
    close: () => client.end(),
  };
}

/** Fails the insert of one identifier, as a bug triggered by that value would, every time. */
const POISON: Record<TestStore['name'], string> = {
  sqlite: `CREATE TRIGGER poison BEFORE INSERT ON identifiers WHEN NEW.value = 'u-poison'
           BEGIN SELECT RAISE(ABORT, 'injected'); END`,
  postgres: `CREATE FUNCTION poison() RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN IF NEW.value = 'u-poison' THEN RAISE EXCEPTION 'injected'; END IF; RETURN NEW; END $$;
             CREATE TRIGGER poison BEFORE INSERT ON identifiers FOR EACH ROW EXECUTE FUNCTION poison()`,
};

describeStores('identity failures', (store) => {
  it('an event whose identity fails every time is set aside alone: the rest of its batch, and later events, get their profiles', async () => {
    c = await startTestCollector({ database: store.database() });
    const admin = { authorization: `Bearer ${c.adminKey}` };
    const profile = async (query: string) => {
      const res = await fetch(`${c?.url}/v1/profiles?${query}`, { headers: admin });
      return { status: res.status, body: (await res.json()) as { id: string; eventCount: number } };
    };
    await sendBatch(c, [{ type: 'track', event: 'Visit', anonymousId: 'dev-p', messageId: 'm0', timestamp: t(0) }]);
    expect((await profile('anonymousId=dev-p')).status).toBe(200);

    // A failure that recurs whenever one event's identity is applied: a real database error, raised
    // by a trigger another connection installs.
    const db = await connect(store, c.dbPath);
    await db.exec(POISON[store.name]);
    const batch = [
      {
        type: 'identify',
        anonymousId: 'dev-1',
        userId: 'u-1',
        traits: { email: 'ada@example.com' },
        messageId: 'm1',
        timestamp: t(1),
      },
      { type: 'identify', anonymousId: 'dev-p', userId: 'u-poison', messageId: 'm2', timestamp: t(2) },
      { type: 'track', event: 'Bought', anonymousId: 'dev-1', messageId: 'm3', timestamp: t(3) },
      {
        type: 'identify',
        anonymousId: 'dev-2',
        traits: { email: 'ada@example.com' },
        messageId: 'm4',
        timestamp: t(4),
      },
    ];
    expect((await sendBatch(c, batch)).accepted).toBe(4);

    // Before: the whole identity batch failed on every retry, and every profile read with it.
    const ada = await profile('email=ada%40example.com');
    expect(ada.status).toBe(200);
    expect(ada.body.eventCount).toBe(3);
    expect((await profile('anonymousId=dev-2')).body.id).toBe(ada.body.id);
    expect((await profile('userId=u-poison')).status).toBe(404);
    const metrics = await (await fetch(`${c.url}/metrics`)).text();
    expect(metrics).toMatch(/^kimlik_identity_failures_total 1$/m);
    const failures = await db.rows('SELECT event_id, message_id, error FROM identity_failures');
    expect(failures).toEqual([expect.objectContaining({ message_id: 'm2', error: 'injected' })]);
    // Stored all the same: it was acknowledged.
    expect((await c.storedEvents()).map((e) => e.messageId)).toEqual(['m0', 'm1', 'm2', 'm3', 'm4']);

    // Identity goes on after it.
    await sendBatch(c, [{ type: 'identify', anonymousId: 'dev-3', userId: 'u-3', messageId: 'm5', timestamp: t(5) }]);
    expect((await profile('anonymousId=dev-3')).body.eventCount).toBe(1);

    // Erasing the device's person also erases the set-aside event that names the device, though no
    // profile holds it.
    await db.exec(store.name === 'sqlite' ? 'DROP TRIGGER poison' : 'DROP TRIGGER poison ON identifiers');
    await db.close();
    const dev = await profile('anonymousId=dev-p');
    const erased = await fetch(`${c.url}/v1/profiles/${dev.body.id}`, { method: 'DELETE', headers: admin });
    expect(erased.status).toBe(200);
    expect(await erased.json()).toMatchObject({ events: 2 });
    expect((await c.storedEvents()).map((e) => e.messageId)).toEqual(['m1', 'm3', 'm4', 'm5']);
  });
});
