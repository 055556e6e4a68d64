import { randomBytes } from 'node:crypto';
import { connect, createServer, type Server, type Socket } from 'node:net';
import pg from 'pg';
import { afterEach, expect, it, vi } from 'vitest';
import { parsePostgresUrl } from '../../collector/src/store/postgres/connection.js';
import {
  ADMIN_KEY,
  type CollectorProcess,
  spawnCollector,
  startTestCollector,
  type TestCollector,
  WRITE_KEY,
} from '../helpers/collector.js';
import { describePostgres, dropTestDatabase, POSTGRES_URL, postgresTestUrl } from '../helpers/stores.js';

let c: TestCollector | undefined;
let role: string | undefined;
let spawned: { process?: CollectorProcess; database: string } | undefined;

async function admin<T extends pg.QueryResultRow>(text: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  try {
    return (await client.query<T>(text)).rows;
  } finally {
    await client.end();
  }
}

afterEach(async () => {
  await c?.close();
  c = undefined;
  if (spawned) {
    spawned.process?.child.kill('SIGKILL');
    await spawned.process?.exited;
    await dropTestDatabase(spawned.database);
    spawned = undefined;
  }
  if (role) {
    await admin(`DROP OWNED BY ${role}`);
    await admin(`DROP ROLE ${role}`);
    role = undefined;
  }
});

const send = async (url: string, writeKey: string) =>
  (
    await fetch(`${url}/v1/batch`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Basic ${btoa(`${writeKey}:`)}` },
      body: JSON.stringify({ batch: [{ type: 'track', userId: 'u-ready', event: 'x' }] }),
    })
  ).status;

/**
 * A TCP relay to PostgreSQL that can go silent: bytes are dropped both ways while the connections
 * stay open, as in a network partition (no reset, so nothing fails fast).
 */
async function silentRelay(
  target: URL,
  port = 0,
): Promise<{ port: number; silent: boolean; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  const relay = { port: 0, silent: false, close: async () => undefined };
  const server: Server = createServer((client) => {
    const upstream = connect(Number(target.port || 5432), target.hostname);
    for (const [from, to] of [
      [client, upstream],
      [upstream, client],
    ] as const) {
      sockets.add(from);
      from.on('data', (d) => relay.silent || to.write(d));
      from.on('error', () => to.destroy());
      from.on('close', () => to.destroy());
    }
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  relay.port = (server.address() as { port: number }).port;
  relay.close = async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  };
  return relay;
}

/**
 * A collector connected as a role of its own that owns its schema and is no superuser (a
 * superuser passes every privilege check), so that a REVOKE takes effect on it.
 */
async function collectorAsOwnRole(): Promise<{ c: TestCollector; schema: string }> {
  role = `kimlik_own_${randomBytes(4).toString('hex')}`;
  const url = new URL(postgresTestUrl());
  await admin(`CREATE ROLE ${role} LOGIN PASSWORD 'pw'`);
  await admin(`GRANT CREATE ON DATABASE ${url.pathname.slice(1)} TO ${role}`);
  url.username = role;
  url.password = 'pw';
  const collector = await startTestCollector({ database: url.toString() });
  c = collector;
  return { c: collector, schema: url.searchParams.get('schema') as string };
}

const post = async (url: string, writeKey: string, batch: Record<string, unknown>[]) => {
  const res = await fetch(`${url}/v1/batch`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Basic ${btoa(`${writeKey}:`)}` },
    body: JSON.stringify({ batch }),
  });
  return { status: res.status, retryAfter: res.headers.get('retry-after'), body: (await res.json()) as unknown };
};

describePostgres('readiness on PostgreSQL', () => {
  it('a collector started before its database is reachable waits for it, then starts (compose, a restarting database)', async () => {
    const url = new URL(postgresTestUrl());
    // A port where the database is not up yet: each connection is cut as it opens.
    let attempts = 0;
    const notYet = createServer((socket) => {
      attempts++;
      socket.destroy();
    });
    await new Promise<void>((r) => notYet.listen(0, '127.0.0.1', r));
    const port = (notYet.address() as { port: number }).port;
    const target = new URL(url);
    url.host = `127.0.0.1:${port}`;
    const starting = startTestCollector({ database: url.toString() });
    let outcome = 'pending';
    starting.then(
      () => {
        outcome = 'started';
      },
      (err: Error) => {
        outcome = `failed: ${err.message}`;
      },
    );
    // It comes back for another try (it exited at the first refusal).
    await vi.waitFor(() => expect(attempts >= 2 || outcome !== 'pending').toBe(true), {
      timeout: 10_000,
      interval: 50,
    });
    expect(outcome).toBe('pending');
    await new Promise<void>((r) => notYet.close(() => r()));
    const relay = await silentRelay(target, port);
    try {
      c = await starting;
      expect((await fetch(`${c.url}/readyz`)).status).toBe(200);
      expect(await send(c.url, c.writeKey)).toBe(200);
    } finally {
      await c?.close();
      c = undefined;
      await relay.close();
    }
  });

  it('/readyz answers 503 within seconds when the database goes silent (a partition: no reset)', async () => {
    const url = new URL(postgresTestUrl());
    const relay = await silentRelay(new URL(url));
    try {
      url.host = `127.0.0.1:${relay.port}`;
      c = await startTestCollector({ database: url.toString() });
      expect((await fetch(`${c.url}/readyz`)).status).toBe(200);
      relay.silent = true;
      const started = Date.now();
      // It hung for as long as the partition lasted, then answered 200.
      const answer = await fetch(`${c.url}/readyz`, { signal: AbortSignal.timeout(15_000) });
      expect(answer.status).toBe(503);
      expect(Date.now() - started).toBeLessThan(5000);
    } finally {
      relay.silent = false;
      await c?.close();
      c = undefined;
      await relay.close();
    }
  });

  it('a permission error (REVOKE INSERT) is the store failing, not the events: 503 with Retry-After, not ready, stored once granted', async () => {
    const { c, schema } = await collectorAsOwnRole();
    const ready = async () => (await fetch(`${c.url}/readyz`)).status;
    const batch = [
      { type: 'track', userId: 'a', event: 'e', messageId: 'perm-1' },
      { type: 'track', userId: 'b', event: 'e', messageId: 'perm-2' },
    ];
    await admin(`REVOKE INSERT ON ${schema}.events FROM ${role}`);
    // It was 400 KIMLIK_EVENT_NOT_STORED per event ("the rest of the batch is stored"): clients dropped them.
    const refused = await post(c.url, c.writeKey, batch);
    expect(refused).toMatchObject({
      status: 503,
      retryAfter: '1',
      body: { error: { code: 'KIMLIK_STORE_UNAVAILABLE' } },
    });
    expect(JSON.stringify(refused.body)).toContain('permission denied');
    expect(await ready()).toBe(503);
    await admin(`GRANT INSERT ON ${schema}.events TO ${role}`);
    expect(await ready()).toBe(200);
    expect(await post(c.url, c.writeKey, batch)).toMatchObject({ status: 200, body: { accepted: 2 } });
    expect((await c.storedEvents()).map((e) => e.messageId)).toEqual(['perm-1', 'perm-2']);
  });

  it('a permission error in identity keeps the events pending (not set aside): the profile appears once granted', async () => {
    const { c, schema } = await collectorAsOwnRole();
    const profile = async () =>
      (await fetch(`${c.url}/v1/profiles?userId=perm-user`, { headers: { authorization: `Bearer ${c.adminKey}` } }))
        .status;
    await admin(`REVOKE INSERT ON ${schema}.identifiers FROM ${role}`);
    expect(
      await post(c.url, c.writeKey, [
        { type: 'identify', userId: 'perm-user', traits: { plan: 'pro' }, messageId: 'p-1' },
      ]),
    ).toMatchObject({ status: 200 });
    // The read waits for identity, which cannot be applied: the store is unavailable, not the profile missing.
    expect(await profile()).toBe(503);
    await admin(`GRANT INSERT ON ${schema}.identifiers TO ${role}`);
    // It was set aside as a failure of the event: 404 until a restart.
    expect(await profile()).toBe(200);
    expect(await admin(`SELECT event_id FROM ${schema}.identity_failures`)).toEqual([]);
  });

  it('a commit blocked by a lock gives up after the lock timeout: 503, not ready, nothing acknowledged; the retry is stored once', async () => {
    const url = postgresTestUrl();
    c = await startTestCollector({ database: url });
    const ready = async () => (await fetch(`${c?.url}/readyz`)).status;
    const batch = [{ type: 'track', userId: 'u-lock', event: 'e', messageId: 'lock-1' }];
    const { connectionString, schema } = parsePostgresUrl(url);
    const holder = new pg.Client({ connectionString });
    await holder.connect();
    try {
      // A migration or a DBA's maintenance holding the table (the audit held it 40 s).
      await holder.query(`BEGIN; LOCK TABLE ${schema}.events IN ACCESS EXCLUSIVE MODE`);
      const started = Date.now();
      // It waited for as long as the lock was held, and /readyz answered 200 meanwhile.
      const blocked = await fetch(`${c.url}/v1/batch`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Basic ${btoa(`${c.writeKey}:`)}` },
        body: JSON.stringify({ batch }),
        signal: AbortSignal.timeout(15_000),
      });
      expect(blocked.status).toBe(503);
      expect(blocked.headers.get('retry-after')).toBe('1');
      expect(JSON.stringify(await blocked.json())).toContain('lock timeout');
      expect(Date.now() - started).toBeLessThan(10_000);
      expect(await ready()).toBe(503);
      await holder.query('ROLLBACK');
      expect(await ready()).toBe(200);
      expect(await post(c.url, c.writeKey, batch)).toMatchObject({ status: 200, body: { accepted: 1 } });
      expect(await post(c.url, c.writeKey, batch)).toMatchObject({ status: 200, body: { duplicates: 1 } });
      expect((await c.storedEvents()).map((e) => e.messageId)).toEqual(['lock-1']);
    } finally {
      await holder.end();
    }
  });

  it('a commit that times out on a lock (event_ids, events) while an erased person exists answers and logs the lock timeout, not "transaction is aborted"', async () => {
    const database = postgresTestUrl();
    spawned = { database };
    // A child process: its log lines are what an operator reads.
    const p = await spawnCollector({ KIMLIK_DATABASE: database });
    spawned.process = p;
    const admin = { authorization: `Bearer ${ADMIN_KEY}` };
    // Someone erased: each commit then checks its events against the erased people, a statement
    // sent behind the commit's inserts, which failed "transaction is aborted" once they had.
    expect(
      await post(p.url, WRITE_KEY, [
        { type: 'identify', userId: 'gone', traits: { email: 'g@x.co' }, messageId: 'g-1' },
      ]),
    ).toMatchObject({ status: 200 });
    const { id } = (await (await fetch(`${p.url}/v1/profiles?userId=gone`, { headers: admin })).json()) as {
      id: string;
    };
    expect((await fetch(`${p.url}/v1/profiles/${id}`, { method: 'DELETE', headers: admin })).status).toBe(200);
    const { connectionString, schema } = parsePostgresUrl(database);
    for (const table of ['event_ids', 'events']) {
      const holder = new pg.Client({ connectionString });
      await holder.connect();
      try {
        await holder.query(`BEGIN; LOCK TABLE ${schema}.${table} IN ACCESS EXCLUSIVE MODE`);
        const blocked = await post(p.url, WRITE_KEY, [
          { type: 'track', userId: 'u', event: 'x', messageId: `m-${table}` },
        ]);
        expect(blocked).toMatchObject({ status: 503, body: { error: { code: 'KIMLIK_STORE_UNAVAILABLE' } } });
        expect((blocked.body as { error: { message: string } }).error.message, table).toContain('lock timeout');
        await holder.query('ROLLBACK');
      } finally {
        await holder.end();
      }
    }
    const failures = p
      .output()
      .split('\n')
      .filter((l) => l.includes('"level":50'))
      .map((l) => (JSON.parse(l) as { err: { message: string } }).err.message);
    expect(failures).toHaveLength(2);
    for (const message of failures) expect(message).toContain('lock timeout');
  }, 60_000);

  it('/readyz answers 503 while the database takes reads but refuses commits (a read-only failover), ready again after', async () => {
    // A role of its own, so that making its sessions read-only touches no other test.
    role = `kimlik_ro_${randomBytes(4).toString('hex')}`;
    await admin(`CREATE ROLE ${role} LOGIN SUPERUSER PASSWORD 'pw'`);
    const url = new URL(postgresTestUrl());
    url.username = role;
    url.password = 'pw';
    c = await startTestCollector({ database: url.toString() });
    const ready = async () => (await fetch(`${c?.url}/readyz`)).status;
    const reconnect = () => admin(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '${role}'`);
    expect(await send(c.url, c.writeKey)).toBe(200);
    expect(await ready()).toBe(200);

    await admin(`ALTER ROLE ${role} SET default_transaction_read_only = on`);
    await reconnect();
    await vi.waitFor(async () => expect(await send(c?.url as string, c?.writeKey as string)).toBe(503), {
      timeout: 10_000,
      interval: 100,
    });
    expect(await ready()).toBe(503);

    await admin(`ALTER ROLE ${role} RESET default_transaction_read_only`);
    await reconnect();
    await vi.waitFor(async () => expect(await ready()).toBe(200), { timeout: 10_000, interval: 100 });
    expect(await send(c.url, c.writeKey)).toBe(200);
  });
});
