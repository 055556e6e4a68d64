import { randomBytes } from 'node:crypto';
import { connect, createServer, type Server, type Socket } from 'node:net';
import pg from 'pg';
import { afterEach, expect, it, vi } from 'vitest';
import { startTestCollector, type TestCollector } from '../helpers/collector.js';
import { describePostgres, POSTGRES_URL, postgresTestUrl } from '../helpers/stores.js';

let c: TestCollector | undefined;
let role: string | undefined;

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
