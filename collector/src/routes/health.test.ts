import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startTestCollector, type TestCollector } from '../../../tests/helpers/collector.js';

let n = 0;
async function track(c: TestCollector): Promise<number> {
  const res = await fetch(`${c.url}/v1/track`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      authorization: `Basic ${Buffer.from(`${c.writeKey}:`).toString('base64')}`,
    },
    body: JSON.stringify({ type: 'track', event: 'Ping', userId: 'u1', messageId: `ready-${++n}` }),
  });
  await res.arrayBuffer();
  return res.status;
}

const readyz = async (c: TestCollector) => {
  const res = await fetch(`${c.url}/readyz`);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
};

describe('/readyz reports whether the store can commit', () => {
  let c: TestCollector;
  /** Another process's connection holding SQLite's write lock, so every commit times out. */
  let locker: Database.Database | null;
  beforeEach(async () => {
    c = await startTestCollector();
    locker = null;
  });
  afterEach(async () => {
    if (locker?.inTransaction) locker.exec('ROLLBACK');
    locker?.close();
    await c.close();
  });
  const lock = async () => {
    // A commit first: the writer thread opens its connection after start-up, and a lock held
    // before that stops the thread (it restarts a second later), which is another failure.
    expect(await track(c)).toBe(200);
    locker = new Database(c.dbPath);
    locker.exec('BEGIN IMMEDIATE');
  };

  it('answers 503 while commits fail (database locked), and ready once the store check passes', async () => {
    expect((await readyz(c)).status).toBe(200);
    await lock();
    // The commit waits for SQLite's busy timeout (5 s), then fails.
    expect(await track(c)).toBe(503);
    const notReady = await readyz(c);
    expect(notReady.status).toBe(503);
    expect(notReady.body).toMatchObject({ error: { code: 'KIMLIK_STORE_UNAVAILABLE' } });
    // Still locked: still not ready, without waiting for the busy timeout.
    const started = Date.now();
    expect((await readyz(c)).status).toBe(503);
    expect(Date.now() - started).toBeLessThan(1000);
    locker?.exec('ROLLBACK');
    // No event arrives meanwhile (a balancer sends none to an instance that is not ready): the
    // probe's own check brings it back.
    expect((await readyz(c)).status).toBe(200);
  });

  it('a writer holding the lock for a moment when the probe runs is not an outage', async () => {
    await lock();
    expect(await track(c)).toBe(503);
    locker?.exec('ROLLBACK');
    // Another process takes the write lock for 50 ms, as the collector's own writer thread does
    // right after a lock is freed (the identity batch it could not apply meanwhile).
    const holder = spawn(
      process.execPath,
      [
        '-e',
        `const db = new (require('better-sqlite3'))(process.argv[1]); db.exec('BEGIN IMMEDIATE');
         console.log('locked'); Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
         db.exec('ROLLBACK'); db.close();`,
        c.dbPath,
      ],
      { cwd: fileURLToPath(new URL('..', import.meta.url)), stdio: ['ignore', 'pipe', 'inherit'] },
    );
    await once(holder.stdout, 'data');
    expect((await readyz(c)).status).toBe(200);
    await once(holder, 'exit');
  });

  it('is ready again once a commit succeeds', async () => {
    await lock();
    expect(await track(c)).toBe(503);
    expect((await readyz(c)).status).toBe(503);
    locker?.exec('ROLLBACK');
    expect(await track(c)).toBe(200);
    expect(await readyz(c)).toEqual({ status: 200, body: { status: 'ready', store: 'sqlite' } });
  });
});
