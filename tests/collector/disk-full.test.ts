import { symlinkSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { resolveOptions } from '../../collector/src/options.js';
import { SqliteStore } from '../../collector/src/store/sqlite/sqlite-store.js';
import { startTestCollector, type TestCollector } from '../helpers/collector.js';
import { storeRow } from '../helpers/store-row.js';
import { mountSmallDisk, SMALL_DISK_SKIP, type SmallDisk } from './small-disk.js';

let c: TestCollector | undefined;
let store: SqliteStore | undefined;
let disk: SmallDisk | undefined;
/** A second disk, for a database path that is a symlink into `disk`. */
let linkDisk: SmallDisk | undefined;
afterEach(async () => {
  disk?.free();
  await c?.close();
  c = undefined;
  await store?.close();
  store = undefined;
  disk?.unmount();
  disk = undefined;
  linkDisk?.unmount();
  linkDisk = undefined;
});

let n = 0;
async function track(col: TestCollector): Promise<number> {
  const res = await fetch(`${col.url}/v1/track`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Basic ${btoa(`${col.writeKey}:`)}` },
    body: JSON.stringify({
      event: 'Filled',
      userId: 'u-disk',
      messageId: `disk-${++n}`,
      properties: { p: 'x'.repeat(2000) },
    }),
  });
  await res.arrayBuffer();
  return res.status;
}
const readyz = async (col: TestCollector) => (await fetch(`${col.url}/readyz`)).status;

/** Copies the write-ahead log into the database and empties it, so the next commit must grow it. */
function emptyLog(path: string): void {
  const db = new Database(path);
  try {
    for (let tries = 0; tries < 100; tries++) {
      const [r] = db.pragma('wal_checkpoint(TRUNCATE)') as { busy: number }[];
      if (!r?.busy) return;
    }
    throw new Error('the log could not be emptied: a checkpoint kept it busy');
  } finally {
    db.close();
  }
}

/**
 * Fills the disk under a collector whose log was emptied: a commit fails (503) and `/readyz`
 * answers 503 (`probes` times); once the disk is freed, `/readyz` is 200 and commits succeed.
 */
async function expectUnreadyUntilFreed(col: TestCollector, small: SmallDisk, probes: number): Promise<void> {
  emptyLog(col.dbPath);
  small.fill();
  expect(await track(col)).toBe(503);
  for (let i = 0; i < probes; i++) expect(await readyz(col)).toBe(503);
  small.free();
  expect(await readyz(col)).toBe(200);
  expect(await track(col)).toBe(200);
}

(SMALL_DISK_SKIP ? describe.skip : describe)(
  `a full disk under SQLite${SMALL_DISK_SKIP ? ` (skipped: ${SMALL_DISK_SKIP})` : ''}`,
  () => {
    it('/readyz answers 503 while commits fail for a full disk, and 200 once a write succeeds again', async () => {
      disk = mountSmallDisk(4);
      c = await startTestCollector({ database: join(disk.path, 'kimlik.db') });
      expect(await track(c)).toBe(200);
      expect(await readyz(c)).toBe(200);
      // It answered 200: its check took the write lock and rolled back, which writes nothing.
      await expectUnreadyUntilFreed(c, disk, 2);
    });

    it('/readyz stays 503 while a small write fits but the disk has no room for requests (a failed commit left a little log behind)', async () => {
      disk = mountSmallDisk(4);
      c = await startTestCollector({ database: join(disk.path, 'kimlik.db') });
      expect(await track(c)).toBe(200);
      emptyLog(c.dbPath);
      disk.fill(64 * 1024);
      // 300 kB in one commit: it fails once the log has taken the 64 kB, which it keeps.
      const big = Array.from({ length: 10 }, (_, i) => ({
        type: 'track',
        event: 'Big',
        userId: 'u-disk',
        messageId: `big-${i}`,
        properties: { p: 'x'.repeat(30_000) },
      }));
      const res = await fetch(`${c.url}/v1/batch`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Basic ${btoa(`${c.writeKey}:`)}` },
        body: JSON.stringify({ batch: big }),
      });
      expect(res.status).toBe(503);
      // Its check's one-row commit fit in that log and answered 200 while requests kept failing.
      expect(await readyz(c)).toBe(503);
      disk.free();
      expect(await readyz(c)).toBe(200);
    });

    it('/readyz after a failed commit measures the disk the database file is on, not the full one its symlink is in', async () => {
      disk = mountSmallDisk(4);
      linkDisk = mountSmallDisk(1);
      const database = join(linkDisk.path, 'kimlik.db');
      symlinkSync(join(disk.path, 'kimlik.db'), database);
      linkDisk.fill();
      c = await startTestCollector({ database });
      expect(await track(c)).toBe(200);
      // It measured the symlink's full disk and stayed 503 for good once freed: no commit, no traffic.
      await expectUnreadyUntilFreed(c, disk, 1);
    });

    it('an identity batch that keeps failing (disk full) is retried with a growing pause, and applied once it can be', async () => {
      disk = mountSmallDisk(4);
      const config = resolveOptions({}).identityConfig;
      const failures: number[] = [];
      let sixth: () => void = () => undefined;
      const sixFailures = new Promise<void>((resolve) => {
        sixth = resolve;
      });
      store = SqliteStore.open({
        path: join(disk.path, 'kimlik.db'),
        synchronous: 'NORMAL',
        identity: {
          enabled: true,
          caps: { maxIdentifiers: 1000, maxMerges: 100 },
          maxClusterIdentifiers: 5000,
          config,
        },
        onIdentityError: () => {
          if (failures.push(performance.now()) === 6) sixth();
        },
      });
      // Every identity batch needs more than the disk holds; the events' own commits are small.
      const raw = new Database(join(disk.path, 'kimlik.db'));
      raw.exec(`CREATE TABLE ballast (b BLOB);
        CREATE TRIGGER ballast BEFORE INSERT ON identifiers BEGIN INSERT INTO ballast VALUES (zeroblob(8000000)); END`);
      const row = storeRow({ type: 'identify', userId: 'u-full' }, 'full-1', Date.now(), config);
      expect(await store.insertEvents([row])).toEqual(['stored']);
      await sixFailures;
      // Every ~13 ms (766 log lines in 10 s): now 50 ms, doubling (50 + 100 + 200 + 400 + 800).
      expect((failures[5] as number) - (failures[0] as number)).toBeGreaterThan(1400);
      raw.exec('DROP TRIGGER ballast');
      raw.close();
      expect(await store.findProfile('userId', 'u-full')).not.toBeNull();
    });
  },
);
