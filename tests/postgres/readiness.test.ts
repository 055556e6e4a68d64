import { randomBytes } from 'node:crypto';
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

describePostgres('readiness on PostgreSQL', () => {
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
