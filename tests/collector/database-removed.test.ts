import { rmSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { SqliteStore } from '../../collector/src/store/sqlite/sqlite-store.js';
import { startTestCollector, type TestCollector } from '../helpers/collector.js';

let c: TestCollector | undefined;
afterEach(async () => {
  await c?.close();
  c = undefined;
});

async function track(col: TestCollector, messageId: string) {
  const res = await fetch(`${col.url}/v1/track`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Basic ${btoa(`${col.writeKey}:`)}` },
    body: JSON.stringify({ event: 'After', userId: 'u-rm', messageId }),
  });
  return { status: res.status, body: (await res.json()) as { error?: { code: string; message: string } } };
}

describe('the SQLite database removed while the collector runs', () => {
  it('answers 503 (ingest and /readyz) instead of acknowledging events into a file no one can open again', async () => {
    c = await startTestCollector();
    expect((await track(c, 'rm-0')).status).toBe(200);
    // `rm -rf` of the data directory (a cleanup script, a volume re-created under the process).
    rmSync(dirname(c.dbPath), { recursive: true, force: true });
    // Both answered 200, and the event was gone at the next start.
    const after = await track(c, 'rm-1');
    expect(after.status).toBe(503);
    expect(after.body.error?.code).toBe('KIMLIK_STORE_UNAVAILABLE');
    expect(after.body.error?.message).toContain('removed or replaced');
    const ready = await fetch(`${c.url}/readyz`);
    expect(ready.status).toBe(503);
    expect(JSON.stringify(await ready.json())).toContain('removed or replaced');
    // Admin writes too: a source created now (201, its key handed out) would be lost with the file.
    const created = await fetch(`${c.url}/v1/sources`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${c.adminKey}` },
      body: JSON.stringify({ name: 'after removal' }),
    });
    expect(created.status).toBe(503);
  });

  it('a writer thread that cannot open the database says why (it said "commit failed: undefined")', async () => {
    c = await startTestCollector();
    expect((await track(c, 'w-0')).status).toBe(200);
    // A schema broken under the collector: the restarted writer fails as it opens (a SqliteError).
    const raw = new Database(c.dbPath);
    raw.exec('ALTER TABLE events RENAME TO events_moved');
    raw.close();
    await (c.collector.store as SqliteStore).crashWriterForTest();
    const col = c;
    await vi.waitFor(
      async () => {
        const ready = await fetch(`${col.url}/readyz`);
        expect(ready.status).toBe(503);
        expect(JSON.stringify(await ready.json())).toContain('no such table: events');
      },
      { timeout: 5000, interval: 50 },
    );
  });
});
