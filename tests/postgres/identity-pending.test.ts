import pg from 'pg';
import { afterEach, expect, it, vi } from 'vitest';
import { PROFILE_SALT_SETTING, profileId } from '../../collector/src/identity/profile-id.js';
import { BEGINNING } from '../../collector/src/identity/resolve.js';
import { resolveOptions } from '../../collector/src/options.js';
import { POSTGRES_MIGRATIONS } from '../../collector/src/store/migrations/postgres.js';
import { parsePostgresUrl } from '../../collector/src/store/postgres/connection.js';
import { PostgresStore } from '../../collector/src/store/postgres/postgres-store.js';
import type { EventRow } from '../../collector/src/store/store.js';
import { storeRow } from '../helpers/store-row.js';
import { describePostgres, dropTestDatabase, postgresTestUrl } from '../helpers/stores.js';

const config = resolveOptions({}).identityConfig;
const identity = { enabled: true, caps: { maxIdentifiers: 1000, maxMerges: 100 }, maxClusterIdentifiers: 5000, config };
const open = (url: string) => PostgresStore.open({ url, poolMax: 3, identity });

const T0 = Date.UTC(2026, 2, 1);
let seq = 0;

/** An event as the ingest route hands it to the store (identity fields derived from the payload). */
function row(event: Record<string, unknown>, tsMs = T0 + seq): EventRow {
  return storeRow(event, `m-${++seq}`, tsMs, config);
}

/** One person over two devices, linked by a userId and an email, with a trait. */
const person = (n: number): EventRow[] => [
  row({ type: 'track', anonymousId: `dev-${n}-a`, event: 'Viewed' }),
  row({ type: 'identify', anonymousId: `dev-${n}-a`, userId: `user-${n}`, traits: { plan: 'pro' } }),
  row({ type: 'track', anonymousId: `dev-${n}-b`, event: 'Viewed' }),
  row({ type: 'identify', anonymousId: `dev-${n}-b`, traits: { email: `p${n}@example.com` } }),
  row({ type: 'identify', userId: `user-${n}`, traits: { email: `p${n}@example.com` } }),
];

async function sql<T extends pg.QueryResultRow>(url: string, text: string): Promise<T[]> {
  const { connectionString, schema } = parsePostgresUrl(url);
  const c = new pg.Client({ connectionString, options: `-c search_path=${schema}` });
  await c.connect();
  try {
    return (await c.query<T>(text)).rows;
  } finally {
    await c.end();
  }
}
/** Events whose identity is pending (the queue holds one row per ingest commit). */
const pendingRows = async (url: string) =>
  (await sql<{ n: number }>(url, 'SELECT coalesce(sum(cardinality(event_ids)), 0)::int AS n FROM identity_pending'))[0]
    ?.n;

async function expectWholePerson(store: PostgresStore, n: number): Promise<void> {
  const pid = await store.findProfile('userId', `user-${n}`);
  expect(pid).not.toBeNull();
  const profile = await store.getProfile(pid as string);
  expect(profile?.identifiers.map((i) => `${i.type}:${i.value}`).sort()).toEqual(
    [`anonymousId:dev-${n}-a`, `anonymousId:dev-${n}-b`, `email:p${n}@example.com`, `userId:user-${n}`].sort(),
  );
  expect(profile?.eventCount).toBe(5);
  expect(profile?.traits).toMatchObject({ plan: 'pro', email: `p${n}@example.com` });
}

const urls: string[] = [];
afterEach(async () => {
  for (const u of urls.splice(0)) await dropTestDatabase(u);
});
const fresh = () => {
  const url = postgresTestUrl();
  urls.push(url);
  return url;
};

/** A schema at `version`, made by applying the migrations up to it by hand. */
async function schemaAt(url: string, version: number, setup: string): Promise<void> {
  const { connectionString, schema } = parsePostgresUrl(url);
  const c = new pg.Client({ connectionString });
  await c.connect();
  try {
    await c.query(`CREATE SCHEMA ${schema}; SET search_path TO ${schema}`);
    await c.query(
      'CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at bigint NOT NULL)',
    );
    for (const m of POSTGRES_MIGRATIONS.filter((x) => x.version <= version)) {
      await c.query(m.sql);
      await c.query('INSERT INTO schema_migrations VALUES ($1, $2, 0)', [m.version, m.name]);
    }
    await c.query(
      `CREATE TABLE events_2026_03 PARTITION OF events FOR VALUES FROM (${T0}) TO (${Date.UTC(2026, 3, 1)})`,
    );
    await c.query(setup);
  } finally {
    await c.end();
  }
}

describePostgres('PostgreSQL identity applied after the commit', () => {
  it('events a version-4 collector left pending (one queue row per event) are applied after the upgrade', async () => {
    const url = fresh();
    const payload = (m: string) => `'{"type":"track","anonymousId":"v4-device","messageId":"${m}"}'`;
    await schemaAt(
      url,
      4,
      `INSERT INTO events (id, source_id, message_id, type, ts, received_at, payload)
       VALUES (1, 1, 'v4-1', 'track', ${T0}, ${T0}, ${payload('v4-1')}), (2, 1, 'v4-2', 'track', ${T0 + 1}, ${T0}, ${payload('v4-2')});
       INSERT INTO event_ids VALUES (1, 'v4-1'), (1, 'v4-2');
       INSERT INTO identity_pending VALUES (1, ${T0}), (2, ${T0});`,
    );
    const store = await open(url);
    try {
      expect(await pendingRows(url)).toBe(2);
      const pid = await store.findProfile('anonymousId', 'v4-device');
      expect(await store.getProfile(pid as string)).toMatchObject({ eventCount: 2 });
      expect(await pendingRows(url)).toBe(0);
    } finally {
      await store.close();
    }
  });

  it('a profile read on collector B sees the events collector A acknowledged just before (read-your-writes)', async () => {
    const url = fresh();
    const [a, b] = await Promise.all([open(url), open(url)]);
    // A's identity batch waits for its timer (10 ms after its last commit): with the clock held,
    // it never starts on its own, so B's reads must apply what A acknowledged. (setImmediate, on
    // which group commit runs, stays real.)
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval'] });
    try {
      for (let n = 0; n < 3; n++) {
        await a.insertEvents(person(n));
        expect(await pendingRows(url)).toBe(5);
        await expectWholePerson(b, n);
        expect(await pendingRows(url)).toBe(0);
      }
      // A's own list is still there: A finds its rows claimed by B and applies nothing twice.
      await a.insertEvents(person(3));
      await expectWholePerson(a, 3);
      await expectWholePerson(b, 0);
    } finally {
      vi.useRealTimers();
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('a profile read during continuous ingest on the same collector returns (it waits only for what was acknowledged before it)', async () => {
    const url = fresh();
    const store = await open(url);
    try {
      await store.insertEvents(person(0));
      let writing = true;
      const writer = (async () => {
        for (let n = 1; writing; n++) await store.insertEvents(person(n));
      })();
      const read = expectWholePerson(store, 0).then(() => 'read');
      const outcome = await Promise.race([read, new Promise((r) => setTimeout(() => r('still waiting'), 5_000))]);
      writing = false;
      await writer;
      await read;
      expect(outcome).toBe('read');
    } finally {
      await store.close();
    }
  }, 20_000);

  it('events of a collector killed between commit and identity are applied by the others: on read, and by the sweep', async () => {
    const url = fresh();
    const [a, b] = await Promise.all([open(url), open(url)]);
    try {
      await a.insertEvents(person(0));
      await a.crashForTest();
      expect(await pendingRows(url)).toBe(5);
      await expectWholePerson(b, 0);

      const c = await open(url);
      try {
        await c.insertEvents(person(1));
        await c.crashForTest();
        expect(await pendingRows(url)).toBe(5);
        // Nobody reads: B's sweep takes rows older than 5 s (bounded wait).
        const deadline = Date.now() + 20_000;
        while ((await pendingRows(url)) !== 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
        expect(await pendingRows(url)).toBe(0);
        // Applied, not only dequeued: every event is attributed.
        const attributed = await sql<{ n: number }>(url, 'SELECT count(*)::int AS n FROM event_owners');
        expect(attributed[0]?.n).toBe(10);
        await expectWholePerson(b, 1);
      } finally {
        await c.close();
      }
    } finally {
      await b.close();
    }
  }, 30_000);

  it('events stored while identity was off are resolved once a collector runs with it on (as on SQLite)', async () => {
    const url = fresh();
    const off = await PostgresStore.open({ url, poolMax: 3, identity: { ...identity, enabled: false } });
    try {
      await off.insertEvents(person(2));
    } finally {
      await off.close();
    }
    const on = await open(url);
    try {
      // A read applies everything pending, including the backlog of the identity-off period.
      await expectWholePerson(on, 2);
      expect(await pendingRows(url)).toBe(0);
    } finally {
      await on.close();
    }
  });

  it("an erasure on one collector empties the others' identifier caches (a shared device's first sighting moved later)", async () => {
    const url = fresh();
    const [a, b] = await Promise.all([open(url), open(url)]);
    try {
      await b.insertEvents([
        // Mom's profile is founded by her userId, seen first: the device's own profile id is not erased with her.
        row({ type: 'track', userId: 'erased-mom', event: 'Signed Up' }, T0 + 5_000),
        row({ type: 'identify', anonymousId: 'family-pc', userId: 'erased-mom' }, T0 + 10_000),
        row({ type: 'identify', anonymousId: 'family-pc', userId: 'kid' }, T0 + 30_000),
      ]);
      // Applied by B, which now knows the device as first seen at 10 s.
      const mom = (await b.findProfile('userId', 'erased-mom')) as string;
      expect(await a.eraseProfile(mom)).toMatchObject({ events: 2 });
      // The kid's own event (an anonymous one timed in mom's period would be hers: dropped).
      await b.insertEvents([
        row({ type: 'track', anonymousId: 'family-pc', userId: 'kid', event: 'Homework' }, T0 + 20_000),
      ]);
      // What is left: the device and the kid both first seen at 20 s, in one event; the device is
      // then the older (anonymousId sorts first), so its profile id is the kid's, as one collector
      // given these events says. B must not answer "seen at 10 s already" from what it knew before
      // the erasure (the device would then count as first seen after the kid's 30 s identify).
      const [salt] = await sql<{ value: string }>(
        url,
        `SELECT value FROM settings WHERE key = '${PROFILE_SALT_SETTING}'`,
      );
      expect(await b.findProfile('userId', 'kid')).toBe(profileId(salt?.value as string, 'anonymousId', 'family-pc'));
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('an event stored before its person was erased but applied after is dropped as suppressed', async () => {
    const url = fresh();
    const store = await open(url);
    try {
      await store.insertEvents(person(0));
      const pid = (await store.findProfile('userId', 'user-0')) as string;
      // Stored by a collector whose ingest commit checked suppression before the erasure
      // committed: the event row and its pending row exist when the erasure is done.
      const late = row({ type: 'track', userId: 'user-0', event: 'Late' });
      expect(await store.eraseProfile(pid)).toMatchObject({ events: 5 });
      await sql(
        url,
        `WITH e AS (
           INSERT INTO events (source_id, message_id, type, name, ts, received_at, payload)
           VALUES (1, '${late.messageId}', 'track', 'Late', ${late.timestampMs}, ${late.receivedAtMs}, '${late.payload}')
           RETURNING id, received_at
         ), k AS (INSERT INTO event_ids VALUES (1, '${late.messageId}'))
         INSERT INTO identity_pending (received_at, event_ids) SELECT received_at, ARRAY[id] FROM e`,
      );
      expect(await store.findProfile('userId', 'user-0')).toBeNull();
      expect(await sql(url, 'SELECT 1 FROM events')).toEqual([]);
      expect(await sql(url, `SELECT 1 FROM event_ids WHERE message_id = '${late.messageId}'`)).toEqual([]);
      expect(await sql(url, "SELECT 1 FROM identifiers WHERE value = 'user-0'")).toEqual([]);
      // Sent again, it is suppressed, not a duplicate.
      expect(await store.insertEvents([late])).toEqual(['suppressed']);
    } finally {
      await store.close();
    }
  });

  it('an event applied while its person is being erased (stored after the erasure began) is erased too', async () => {
    const url = fresh();
    const store = await open(url);
    const { connectionString, schema } = parsePostgresUrl(url);
    const session = async () => {
      const c = new pg.Client({ connectionString, options: `-c search_path=${schema}` });
      await c.connect();
      await c.query('BEGIN');
      return c;
    };
    // Until a backend of this database waits for a lock in a statement starting with one of `queries`.
    const waitingIn = async (...queries: string[]) => {
      await vi.waitFor(
        async () => {
          const r = await sql(
            url,
            `SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'
             AND (${queries.map((q) => `starts_with(query, '${q}')`).join(' OR ')})`,
          );
          if (r.length === 0) throw new Error(`nothing waits in ${queries.join(', ')}`);
        },
        { timeout: 10_000, interval: 10 },
      );
    };
    const holdPerson = await session();
    const holdOwners = await session();
    try {
      await store.insertEvents(person(0));
      const pid = (await store.findProfile('userId', 'user-0')) as string;
      // The erasure starts (every earlier event applied) and waits for the person's row lock…
      await holdPerson.query("SELECT 1 FROM identifiers WHERE value = 'user-0' FOR UPDATE");
      const erasure = store.eraseProfile(pid);
      await waitingIn('SELECT id FROM identifiers');
      // …while an event of the person is stored and its identity batch starts (held before its
      // attribution is written, or kept out by the erasure)…
      await holdOwners.query('LOCK TABLE event_owners IN ACCESS EXCLUSIVE MODE');
      const late = row({ type: 'track', userId: 'user-0', event: 'Late' });
      expect(await store.insertEvents([late])).toEqual(['stored']);
      await waitingIn('INSERT INTO event_owners', 'SELECT pg_advisory_xact_lock_shared');
      // …and the erasure goes on until it deletes the person's attributions: both go on at once.
      await holdPerson.query('COMMIT');
      await waitingIn('WITH gone AS (DELETE FROM event_owners');
      await holdOwners.query('COMMIT');
      expect(await erasure).toMatchObject({ profileId: pid });
      expect(await store.findProfile('userId', 'user-0')).toBeNull();
      // Nothing of the person is left: not the late event, nor its attribution.
      expect(await sql(url, `SELECT 1 FROM events WHERE message_id = '${late.messageId}'`)).toEqual([]);
      expect(await sql(url, 'SELECT 1 FROM event_owners')).toEqual([]);
      expect(await store.insertEvents([late])).toEqual(['suppressed']);
    } finally {
      await holdPerson.end();
      await holdOwners.end();
      await store.close();
    }
  });

  it('a database from before the pending queue (identity applied inline) upgrades without re-deriving anything', async () => {
    const url = fresh();
    // Version 3's schema: one event whose identity was applied inline (a person of one anonymous
    // ID), and one that version left unattributed (identity was off then).
    await schemaAt(
      url,
      3,
      `INSERT INTO events (source_id, message_id, type, ts, received_at, payload)
       VALUES (1, 'old-1', 'track', ${T0}, ${T0}, '{"type":"track","anonymousId":"old-device","messageId":"old-1"}');
       INSERT INTO settings VALUES ('${PROFILE_SALT_SETTING}', 'old-salt');
       INSERT INTO identifiers (id, type, value, first_ts, first_msg) VALUES (7, 'anonymousId', 'inline-device', ${T0}, 'old-2');
       INSERT INTO memberships VALUES (7, ${BEGINNING}, '${profileId('old-salt', 'anonymousId', 'inline-device')}');
       INSERT INTO events (source_id, message_id, type, ts, received_at, payload, anon_ident)
       VALUES (1, 'old-2', 'track', ${T0}, ${T0}, '{"type":"track","anonymousId":"inline-device","messageId":"old-2"}', 7);`,
    );
    const store = await open(url);
    try {
      expect(
        (await sql<{ version: number }>(url, 'SELECT version FROM schema_migrations')).map((r) => r.version),
      ).toEqual(POSTGRES_MIGRATIONS.map((m) => m.version));
      expect(await pendingRows(url)).toBe(0);
      expect(await store.findProfile('anonymousId', 'old-device')).toBeNull();
      const inline = await store.findProfile('anonymousId', 'inline-device');
      expect(inline).toBe(profileId('old-salt', 'anonymousId', 'inline-device'));
      expect(await store.getProfile(inline as string)).toMatchObject({ eventCount: 1 });
      expect((await store.profileEvents(inline as string, { limit: 10 }))?.events).toMatchObject([
        { messageId: 'old-2' },
      ]);
      await store.insertEvents(person(0));
      await expectWholePerson(store, 0);
    } finally {
      await store.close();
    }
  });
});
