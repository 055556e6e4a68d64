import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { resolveOptions } from '../../collector/src/options.js';
import { SqliteStore } from '../../collector/src/store/sqlite/sqlite-store.js';
import { tempDir } from '../helpers/collector.js';
import { storeRow } from '../helpers/store-row.js';

const MINUTE = 60_000;
let cleanup: (() => Promise<void>) | null = null;
afterEach(async () => {
  await cleanup?.();
  cleanup = null;
});

it("an erasure takes the person's events out of the overview's counts and top events at once", async () => {
  const dir = tempDir();
  const config = resolveOptions({}).identityConfig;
  const store = SqliteStore.open({
    path: join(dir.path, 'kimlik.db'),
    synchronous: 'NORMAL',
    identity: { enabled: true, caps: { maxIdentifiers: 1000, maxMerges: 100 }, maxClusterIdentifiers: 5000, config },
  });
  cleanup = async () => {
    await store.close();
    dir.remove();
  };
  // Received half an hour ago: their minute is settled, which the overview counts once and remembers.
  const receivedAtMs = Date.now() - 30 * MINUTE;
  const row = (userId: string, event: string, i: number) => ({
    ...storeRow({ type: 'track', userId, event }, `${userId}-${i}`, receivedAtMs, config),
    receivedAtMs,
  });
  const rows = [0, 1, 2, 3, 4].map((i) => row('erase-me', 'Ada Lovelace checked out', i));
  rows.push(row('keep-me', 'Viewed', 0), row('keep-me', 'Viewed', 1));
  expect(await store.insertEvents(rows)).toEqual(rows.map(() => 'stored'));
  const untilMs = Math.ceil(Date.now() / MINUTE) * MINUTE;
  const query = { sinceMs: untilMs - 60 * MINUTE, untilMs, bucketMs: MINUTE, top: 5 };
  const before = await store.stats(query);
  expect(before.totals.events).toBe(7);
  expect(before.topEvents.map((e) => e.name)).toContain('Ada Lovelace checked out');

  const profile = await store.findProfile('userId', 'erase-me');
  expect(await store.eraseProfile(profile as string)).toMatchObject({ events: 5 });
  const after = await store.stats(query);
  expect(after.totals.events).toBe(2);
  expect(after.buckets.reduce((n, b) => n + b.events, 0)).toBe(2);
  expect(after.topEvents).toEqual([{ type: 'track', name: 'Viewed', events: 2 }]);
});
