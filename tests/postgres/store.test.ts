import pg from 'pg';
import { afterEach, expect, it } from 'vitest';
import { resolveOptions } from '../../collector/src/options.js';
import { POSTGRES_MIGRATIONS } from '../../collector/src/store/migrations/postgres.js';
import { parsePostgresUrl } from '../../collector/src/store/postgres/connection.js';
import { monthPartition } from '../../collector/src/store/postgres/month-partitions.js';
import { PostgresStore } from '../../collector/src/store/postgres/postgres-store.js';
import type { EventRow } from '../../collector/src/store/store.js';
import { describePostgres, dropTestDatabase, postgresTestUrl } from '../helpers/stores.js';

const identity = {
  enabled: true,
  caps: { maxIdentifiers: 1000, maxMerges: 100 },
  maxClusterIdentifiers: 5000,
  config: resolveOptions({}).identityConfig,
};
const open = (url: string) => PostgresStore.open({ url, poolMax: 3, identity });

const urls: string[] = [];
afterEach(async () => {
  for (const u of urls.splice(0)) await dropTestDatabase(u);
});

function row(messageId: string, receivedAtMs = Date.now()): EventRow {
  return {
    sourceId: 1,
    dedupHash: 0,
    messageId,
    type: 'track',
    name: 'E',
    userId: null,
    anonymousId: 'a1',
    timestampMs: receivedAtMs,
    receivedAtMs,
    payload: JSON.stringify({ type: 'track', messageId, anonymousId: 'a1' }),
    identAnonymousId: 'a1',
    identUserId: null,
    identityExtra: null,
  };
}

describePostgres('PostgresStore', () => {
  it('collectors starting together apply each migration once (advisory lock)', async () => {
    const url = postgresTestUrl();
    urls.push(url);
    const stores = await Promise.all([1, 2, 3, 4].map(() => open(url)));
    try {
      const { connectionString, schema } = parsePostgresUrl(url);
      const client = new pg.Client({ connectionString });
      await client.connect();
      const versions = await client.query(`SELECT version FROM ${schema}.schema_migrations ORDER BY version`);
      await client.end();
      expect(versions.rows.map((r) => r.version)).toEqual(POSTGRES_MIGRATIONS.map((m) => m.version));
      // Every process reads the same profile salt: profile ids agree across collectors.
      expect(new Set(await Promise.all(stores.map((s) => s.getSetting('profile_id_salt')))).size).toBe(1);
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  });

  it('dedups exactly across stores, and retention drops whole month partitions', async () => {
    const url = postgresTestUrl();
    urls.push(url);
    const [a, b] = await Promise.all([open(url), open(url)]);
    try {
      const old = Date.UTC(2025, 0, 15);
      const [x, y] = await Promise.all([
        a.insertEvents([row('m1'), row('m2'), row('old-1', old)]),
        b.insertEvents([row('m2'), row('m1'), row('old-1', old)]),
      ]);
      const outcomes = [...(x ?? []), ...(y ?? [])];
      expect(outcomes.filter((o) => o === 'stored')).toHaveLength(3);
      expect(outcomes.filter((o) => o === 'duplicate')).toHaveLength(3);

      const pid = (await a.findProfile('anonymousId', 'a1')) as string;
      expect(await a.getProfile(pid)).toMatchObject({ eventCount: 3 });

      const dropped = await a.dropEventPartitionsBefore(Date.UTC(2025, 1, 1));
      expect(dropped).toEqual([monthPartition(old).name]);
      const left = (await a.listEvents({ limit: 10 })).events.map((e) => e.event.messageId).sort();
      expect(left).toEqual(['m1', 'm2']);
      // Attribution leaves with its month too (event_owners is not partitioned).
      expect(await a.getProfile(pid)).toMatchObject({ eventCount: 2 });
      // Dedup keys leave with their month: a late re-send of a dropped event is stored again,
      // while the kept months still dedup (event_ids does not grow forever).
      expect(await b.insertEvents([row('old-1'), row('m1')])).toEqual(['stored', 'duplicate']);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('a batch repeating stored keys stores only its new events, however its commit goes', async () => {
    const url = postgresTestUrl();
    urls.push(url);
    const a = await open(url);
    // Another collector: it has had no redo, so its commits go the quick way.
    const b = await open(url);
    try {
      expect(await a.insertEvents([row('k1'), row('k2')])).toEqual(['stored', 'stored']);
      // The quick commit's plain insert of k1 fails; the commit is redone the careful way.
      expect(await a.insertEvents([row('k3'), row('k1')])).toEqual(['stored', 'duplicate']);
      // Right after a redo, commits go the careful way (repeats come in runs).
      expect(await a.insertEvents([row('k2'), row('k4'), row('k4')])).toEqual(['duplicate', 'stored', 'duplicate']);
      // Quick: a repeat inside the commit never reaches the database, one outside it redoes it.
      expect(await b.insertEvents([row('k5'), row('k5')])).toEqual(['stored', 'duplicate']);
      expect(await b.insertEvents([row('k6'), row('k3'), row('k1')])).toEqual(['stored', 'duplicate', 'duplicate']);
      const stored = (await a.listEvents({ limit: 20 })).events.map((e) => e.event.messageId).sort();
      expect(stored).toEqual(['k1', 'k2', 'k3', 'k4', 'k5', 'k6']);
      const pid = (await a.findProfile('anonymousId', 'a1')) as string;
      expect(await a.getProfile(pid)).toMatchObject({ eventCount: 6 });
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('collectors starting together upsert the same default source without a unique violation', async () => {
    const url = postgresTestUrl();
    urls.push(url);
    const stores = await Promise.all([1, 2, 3, 4].map(() => open(url)));
    try {
      const { connectionString, schema } = parsePostgresUrl(url);
      const client = new pg.Client({ connectionString, options: `-c search_path=${schema}` });
      await client.connect();
      const source = { id: 1, name: 'default', writeKey: 'wk_same', allowedOrigins: [] };
      try {
        for (let round = 0; round < 300; round++) {
          // Each round starts from an empty sources table, as a first start does.
          await client.query('DELETE FROM sources');
          await Promise.all(stores.map((s) => s.upsertSource(source)));
        }
      } finally {
        await client.end();
      }
      expect(await stores[1]?.listSources()).toEqual([source]);
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  });

  it('a commit whose event insert fails acknowledges nothing, not even its dedup keys', async () => {
    const url = postgresTestUrl();
    urls.push(url);
    const [a, b] = await Promise.all([open(url), open(url)]);
    try {
      // a drops every month partition; b still believes this month's exists, so its event insert
      // (the statement COMMIT is pipelined behind) fails inside the transaction.
      await a.dropEventPartitionsBefore(Date.UTC(9999, 0, 1));
      await expect(b.insertEvents([row('lost')])).rejects.toThrow(/no partition/);
      // The client's retry: stored, so the failed commit left no dedup key behind (else this would
      // be a duplicate, never stored), and b re-checked the partitions it believed in.
      expect(await b.insertEvents([row('lost')])).toEqual(['stored']);
      expect((await a.listEvents({ limit: 10 })).events.map((e) => e.event.messageId)).toEqual(['lost']);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('an event with NUL characters (which PostgreSQL text cannot hold) does not fail its commit', async () => {
    const url = postgresTestUrl();
    urls.push(url);
    const store = await open(url);
    try {
      const poisoned = { ...row('m\u0000nul'), name: 'a\u0000b', identAnonymousId: 'x\u0000y' };
      // Both requests share one group commit: before, the NUL failed it and both were answered 503.
      const [a, b] = await Promise.all([store.insertEvents([poisoned]), store.insertEvents([row('plain')])]);
      expect([a, b]).toEqual([['stored'], ['stored']]);
      expect(await store.findProfile('anonymousId', 'x\uFFFDy')).not.toBeNull();
      expect((await store.listEvents({ limit: 10 })).events).toHaveLength(2);
    } finally {
      await store.close();
    }
  });

  it('lists events newest first in the order they were stored, whichever collector stored them', async () => {
    const url = postgresTestUrl();
    urls.push(url);
    const [a, b] = await Promise.all([open(url), open(url)]);
    try {
      // Taking turns: with ids drawn from per-connection blocks, a's second event was listed below b's.
      for (const [store, messageId] of [
        [a, 'first'],
        [b, 'second'],
        [a, 'third'],
        [b, 'fourth'],
      ] as const)
        await store.insertEvents([row(messageId)]);
      const listed = (await a.listEvents({ limit: 10 })).events.map((e) => e.event.messageId);
      expect(listed).toEqual(['fourth', 'third', 'second', 'first']);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('rejects a schema name that is not a plain identifier', () => {
    expect(() => parsePostgresUrl('postgres://u@h/db?schema=a;drop')).toThrow(/schema must be/);
    expect(parsePostgresUrl('postgres://u@h/db').schema).toBe('public');
  });
});
