import type pg from 'pg';
import type { IdentityExtra } from '../../identity/event-identity.js';
import type { IdentifierType } from '../../identity/identifiers.js';
import { profileId, suppressionHash } from '../../identity/profile-id.js';
import {
  BEGINNING,
  type ResolverCaps,
  type ResolverLink,
  type ResolverNode,
  resolveCluster,
} from '../../identity/resolve.js';
import { boolArray, int8Array, textArray } from './binary-arrays.js';
import { type Db, ERASURE_LOCK, lockXact } from './connection.js';

export interface PgIdentityWriterOptions {
  salt: string;
  /** The store's schema: its advisory locks are per schema. */
  schema: string;
  caps: ResolverCaps;
  /** Most identifiers one replay gathers (summed over the clusters of one commit). */
  maxClusterIdentifiers: number;
}

export interface IdentityInput {
  anonymousId: string | null;
  userId: string | null;
  extra: string | null;
  ts: number;
  messageId: string;
}

export type IdentityIds = { anon: number | null; user: number | null } | null;

/** An identifier this commit needs, with its earliest sighting among the commit's events. */
interface Want {
  type: string;
  value: string;
  ts: number;
  msg: string;
  /** Seen in this commit only as an alias's previousId (see resolve.ts). */
  alias: boolean;
}

interface Ident {
  id: number;
  /** This commit saw the identifier before its recorded first sighting. */
  earlier: boolean;
  /** Recorded as alias-only, and this commit saw it in an event's own field. */
  unalias?: boolean;
}

/** Retried whole by `inTransaction`, like a serialization failure. */
const identityConflict = (message: string) => Object.assign(new Error(message), { code: '40001' });

const keyOf = (type: string, value: string) => `${type}\u0000${value}`;
const earlier = (ts: number, msg: string, than: { ts: number; msg: string }) =>
  ts < than.ts || (ts === than.ts && msg < than.msg);

/**
 * The identity graph's writes on PostgreSQL, in the identity batches that follow the ingest
 * commits (identity-applier.ts), safe with many collector processes on one database.
 *
 * Why it is correct under concurrency: a transaction changes a cluster (adds or moves a link,
 * moves an identifier's first sighting, rewrites memberships) only while it holds row locks on
 * every identifier of that cluster. Locks are taken in id order, the cluster is re-read after
 * each round of locks until it stops growing, and only then replayed; so two processes linking
 * overlapping people queue behind each other and the second replays a cluster that includes the
 * first's links. Deadlocks (possible when a cluster grows while locking) abort one transaction,
 * which the caller retries whole. The common case — identifiers and links already known — takes
 * no lock at all.
 */
export class PgIdentityWriter {
  constructor(private readonly options: PgIdentityWriterOptions) {}

  /**
   * Keeps erasures out until the caller's transaction ends (identity batches; shared, so they
   * still run side by side). Why: a batch that applies only known identifiers takes no row lock,
   * so without it an erasure committing between the batch's suppression check and its commit
   * would leave the batch's events and attributions of the erased person behind. Taken before
   * the suppression check, which then sees every erasure committed before it.
   */
  async excludeErasures(c: pg.PoolClient): Promise<void> {
    await lockXact(c, this.options.schema, ERASURE_LOCK, 'shared');
  }

  /** Waits for the identity batches in progress and keeps new ones out until the erasure commits. */
  async lockForErasure(c: pg.PoolClient): Promise<void> {
    await lockXact(c, this.options.schema, ERASURE_LOCK);
  }

  /**
   * Whether anyone was ever erased, read every commit (another process may erase). Meant to be
   * sent before the commit's first answer is awaited (pipelined): the usual "no" then costs no
   * round trip of its own.
   */
  anySuppressed(c: Db): Promise<boolean> {
    const any = c
      .query<{ x: boolean }>('SELECT EXISTS (SELECT 1 FROM suppressed) AS x')
      .then((r) => r.rows[0]?.x === true);
    // Awaited by process(); when the commit fails before that, this must not be an unhandled rejection.
    any.catch(() => undefined);
    return any;
  }

  /**
   * Indexes of the events carrying an identifier of an erased person (checked by the ingest
   * commit, so such events are never stored; `process` checks again when it applies them).
   */
  async suppressedAmong(c: Db, events: readonly IdentityInput[]): Promise<Set<number>> {
    const extras = events.map((e) => (e.extra ? (JSON.parse(e.extra) as IdentityExtra) : null));
    return this.suppressedEvents(c, this.identifierLists(events, extras));
  }

  async process(c: Db, events: readonly IdentityInput[], anySuppressed: Promise<boolean>): Promise<IdentityIds[]> {
    const extras = events.map((e) => (e.extra ? (JSON.parse(e.extra) as IdentityExtra) : null));
    const lists = this.identifierLists(events, extras);
    const suppressed = (await anySuppressed) ? await this.suppressedEvents(c, lists) : new Set<number>();

    // Every identifier once, with the earliest sighting among these events.
    const wanted = new Map<string, Want>();
    lists.forEach((list, i) => {
      if (suppressed.has(i)) return;
      const e = events[i] as IdentityInput;
      for (const { type, value, k, alias } of list.ids) {
        const w = wanted.get(k);
        if (!w) wanted.set(k, { type, value, ts: e.ts, msg: e.messageId, alias });
        else {
          if (!alias) w.alias = false;
          if (earlier(e.ts, e.messageId, w)) Object.assign(w, { ts: e.ts, msg: e.messageId });
        }
      }
    });
    const idents = await this.ensureIdentifiers(c, wanted);

    // What would change the graph: identifiers seen earlier than recorded, links new or earlier.
    const firstMoves: { id: number; ts: number; msg: string }[] = [];
    const unaliased: number[] = [];
    for (const [k, w] of wanted) {
      const found = idents.get(k) as Ident;
      if (found.earlier) {
        firstMoves.push({ id: found.id, ts: w.ts, msg: w.msg });
      }
      if (found.unalias) unaliased.push(found.id);
    }
    const pairs = new Map<string, { a: number; b: number; ts: number; msg: string }>();
    lists.forEach((list, i) => {
      if (suppressed.has(i)) return;
      const e = events[i] as IdentityInput;
      const ids = list.ids.map((x) => (idents.get(x.k) as Ident).id);
      for (let x = 0; x < ids.length; x++) {
        for (let y = x + 1; y < ids.length; y++) {
          const [a, b] = (ids[x] as number) < (ids[y] as number) ? [ids[x], ids[y]] : [ids[y], ids[x]];
          if (a === b) continue;
          const k = `${a}:${b}`;
          const p = pairs.get(k);
          if (!p) pairs.set(k, { a: a as number, b: b as number, ts: e.ts, msg: e.messageId });
          else if (earlier(e.ts, e.messageId, p)) Object.assign(p, { ts: e.ts, msg: e.messageId });
        }
      }
    });
    const linkChanges = await this.linkChanges(c, [...pairs.values()]);
    if (firstMoves.length > 0 || linkChanges.length > 0 || unaliased.length > 0) {
      const seeds = new Set<number>([...firstMoves.map((m) => m.id), ...unaliased]);
      for (const l of linkChanges) seeds.add(l.a).add(l.b);
      await this.lockClusters(c, seeds);
      const dirty = new Set<number>();
      if (unaliased.length > 0) {
        // An event names the value in its own field: an alias of it meant this identifier.
        const cleared = await c.query<{ id: number }>(
          'UPDATE identifiers SET alias_only = false WHERE id = ANY($1::bigint[]) AND alias_only RETURNING id',
          [int8Array(unaliased)],
        );
        for (const r of cleared.rows) dirty.add(r.id);
      }
      if (firstMoves.length > 0) {
        const moved = await c.query<{ id: number }>(
          `UPDATE identifiers AS i SET first_ts = u.ts, first_msg = u.msg
           FROM unnest($1::bigint[], $2::bigint[], $3::text[]) AS u(id, ts, msg)
           WHERE i.id = u.id AND (u.ts, u.msg) < (i.first_ts, i.first_msg) RETURNING i.id`,
          [
            int8Array(firstMoves.map((m) => m.id)),
            int8Array(firstMoves.map((m) => m.ts)),
            textArray(firstMoves.map((m) => m.msg)),
          ],
        );
        for (const r of moved.rows) dirty.add(r.id);
      }
      if (linkChanges.length > 0) {
        const changed = await c.query<{ a: number; b: number }>(
          `INSERT INTO links (a, b, ts, message_id)
           SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::text[])
           ON CONFLICT (a, b) DO UPDATE SET ts = excluded.ts, message_id = excluded.message_id
           WHERE (excluded.ts, excluded.message_id) < (links.ts, links.message_id)
           RETURNING a, b`,
          [
            int8Array(linkChanges.map((l) => l.a)),
            int8Array(linkChanges.map((l) => l.b)),
            int8Array(linkChanges.map((l) => l.ts)),
            textArray(linkChanges.map((l) => l.msg)),
          ],
        );
        for (const r of changed.rows) dirty.add(r.a).add(r.b);
      }
      if (dirty.size > 0) await this.replay(c, dirty);
    }

    const out: IdentityIds[] = [];
    const traits = { owner: [] as number[], ts: [] as number[], msg: [] as string[], key: [] as string[] };
    const traitValues: { value: (string | null)[]; once: boolean[] } = { value: [], once: [] };
    lists.forEach((list, i) => {
      if (suppressed.has(i)) {
        out.push(null);
        return;
      }
      const e = events[i] as IdentityInput;
      const idOf = (x: { k: string } | null) => (x ? (idents.get(x.k) as Ident).id : null);
      const user = idOf(list.user);
      const anon = idOf(list.anon);
      out.push({ anon, user });
      const owner = user ?? anon;
      if (owner === null) return;
      for (const [key, value, once] of extras[i]?.w ?? []) {
        traits.owner.push(owner);
        traits.ts.push(e.ts);
        traits.msg.push(e.messageId);
        traits.key.push(key);
        traitValues.value.push(value);
        traitValues.once.push(once === 1);
      }
    });
    if (traits.owner.length > 0) {
      await c.query(
        `INSERT INTO trait_writes (identifier_id, ts, message_id, key, value, set_once)
         SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::boolean[])`,
        [
          int8Array(traits.owner),
          int8Array(traits.ts),
          textArray(traits.msg),
          textArray(traits.key),
          textArray(traitValues.value),
          boolArray(traitValues.once),
        ],
      );
    }
    return out;
  }

  /**
   * Per event, its identifiers in the writer's fixed order (userId, trait identifiers, anonymousId,
   * alias previousId). An alias's previousId is both a userId and an anonymous ID, marked as seen
   * through the alias: the resolver keeps the reading the set of events supports, as on SQLite.
   */
  private identifierLists(events: readonly IdentityInput[], extras: (IdentityExtra | null)[]) {
    return events.map((e, i) => {
      const extra = extras[i];
      // Each identifier's map key is built once here, not at every later lookup.
      const id = (type: string, value: string, alias = false) => ({ type, value, k: keyOf(type, value), alias });
      const ids: { type: string; value: string; k: string; alias: boolean }[] = [];
      const user = e.userId ? id('userId', e.userId) : null;
      if (user) ids.push(user);
      for (const [t, v] of extra?.t ?? []) ids.push(id(t, v));
      const anon = e.anonymousId ? id('anonymousId', e.anonymousId) : null;
      if (anon) ids.push(anon);
      if (extra?.p) ids.push(id('userId', extra.p, true), id('anonymousId', extra.p, true));
      return { ids, user, anon };
    });
  }

  /** Events carrying an identifier of an erased person. */
  private async suppressedEvents(c: Db, lists: { ids: { type: string; value: string }[] }[]): Promise<Set<number>> {
    const out = new Set<number>();
    const hashes = lists.map((l) => l.ids.map((i) => suppressionHash(this.options.salt, i.type, i.value)));
    const hit = await c.query<{ hash: string }>('SELECT hash FROM suppressed WHERE hash = ANY($1::text[])', [
      textArray([...new Set(hashes.flat())]),
    ]);
    if (hit.rows.length === 0) return out;
    const erased = new Set(hit.rows.map((r) => r.hash));
    hashes.forEach((hs, i) => {
      if (hs.some((h) => erased.has(h))) out.add(i);
    });
    return out;
  }

  /**
   * Ids of the identifiers, creating missing ones (each founding its own one-identifier profile).
   * One statement does the lookup and, for the missing ones only, the identifier and membership
   * inserts: a commit of new people costs one round trip instead of four.
   */
  private async ensureIdentifiers(c: Db, wanted: Map<string, Want>): Promise<Map<string, Ident>> {
    const found = new Map<string, Ident>();
    if (wanted.size === 0) return found;
    const keys = [...wanted.keys()];
    const list = [...wanted.values()];
    // Rows carry the input's ordinal, the id and whether this commit saw the identifier earlier
    // than recorded: no identifier text travels back to be parsed and re-keyed.
    const r = await c.query<{ n: number; id: number; earlier: boolean; unalias: boolean }>(
      `WITH input AS (
         SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::boolean[])
           WITH ORDINALITY AS u(type, value, ts, msg, pid, alias, n)
       ),
       -- One index probe per identifier: LIMIT keeps the planner from hashing the whole table,
       -- which it picked (measured) when its statistics still described a small table.
       known AS (
         SELECT u.n, i.id, (u.ts, u.msg) < (i.first_ts, i.first_msg) AS earlier, i.alias_only AND NOT u.alias AS unalias
         FROM input u CROSS JOIN LATERAL (
           SELECT id, first_ts, first_msg, alias_only FROM identifiers WHERE type = u.type AND value = u.value LIMIT 1
         ) i
       ),
       created AS (
         INSERT INTO identifiers (type, value, first_ts, first_msg, alias_only)
         SELECT u.type, u.value, u.ts, u.msg, u.alias FROM input u
         WHERE u.n NOT IN (SELECT n FROM known)
         -- One order in every process: overlapping creations take the unique-index locks in turn.
         ORDER BY u.type COLLATE "C", u.value COLLATE "C"
         ON CONFLICT (type, value) DO NOTHING
         RETURNING id, type, value
       ),
       fresh AS (SELECT u.n, c.id, u.pid FROM created c JOIN input u ON u.type = c.type AND u.value = c.value),
       -- No conflict possible: the identifiers were created by this statement. A one-identifier
       -- profile gets no profiles row: its id is its membership's (see replay).
       joined AS (INSERT INTO memberships (identifier_id, from_ts, profile_id) SELECT id, ${BEGINNING}, pid FROM fresh)
       SELECT n, id, earlier, unalias FROM known UNION ALL SELECT n, id, false, false FROM fresh`,
      [
        textArray(list.map((w) => w.type)),
        textArray(list.map((w) => w.value)),
        int8Array(list.map((w) => w.ts)),
        textArray(list.map((w) => w.msg)),
        textArray(list.map((w) => profileId(this.options.salt, w.type, w.value))),
        boolArray(list.map((w) => w.alias)),
      ],
    );
    for (const row of r.rows) found.set(keys[row.n - 1] as string, row);
    // Created by another collector after this statement's snapshot: the insert waited for its
    // commit and skipped the row, and the lookup could not see it yet; a new statement does.
    const racing = keys.filter((k) => !found.has(k)).map((k) => ({ ...(wanted.get(k) as Want), k }));
    if (racing.length > 0) {
      const again = await c.query<{
        id: number;
        type: string;
        value: string;
        first_ts: number;
        first_msg: string;
        alias_only: boolean;
      }>(
        `SELECT id, type, value, first_ts, first_msg, alias_only FROM identifiers
         WHERE (type, value) IN (SELECT * FROM unnest($1::text[], $2::text[]))`,
        [textArray(racing.map((w) => w.type)), textArray(racing.map((w) => w.value))],
      );
      const byKey = new Map(racing.map((w) => [w.k, w]));
      for (const row of again.rows) {
        const k = keyOf(row.type, row.value);
        const w = byKey.get(k) as (typeof racing)[number];
        found.set(k, {
          id: row.id,
          earlier: earlier(w.ts, w.msg, { ts: row.first_ts, msg: row.first_msg }),
          unalias: row.alias_only && !w.alias,
        });
      }
    }
    for (const [k, w] of wanted) {
      if (!found.has(k)) throw identityConflict(`identifier ${w.type} was erased while linking`);
    }
    return found;
  }

  /** The candidate links that are new or earlier than the stored ones (read without locks). */
  private async linkChanges(c: Db, pairs: { a: number; b: number; ts: number; msg: string }[]) {
    if (pairs.length === 0) return [];
    const r = await c.query<{ a: number; b: number; ts: number; message_id: string }>(
      `SELECT a, b, ts, message_id FROM links
       WHERE (a, b) IN (SELECT * FROM unnest($1::bigint[], $2::bigint[]))`,
      [int8Array(pairs.map((p) => p.a)), int8Array(pairs.map((p) => p.b))],
    );
    const stored = new Map(r.rows.map((row) => [`${row.a}:${row.b}`, { ts: row.ts, msg: row.message_id }]));
    // Sorted by pair: concurrent upserts touch the primary key in one order.
    return pairs
      .filter((p) => {
        const s = stored.get(`${p.a}:${p.b}`);
        return !s || earlier(p.ts, p.msg, s);
      })
      .sort((x, y) => x.a - y.a || x.b - y.b);
  }

  /** Identifiers reachable from `seeds` through any link, with those links (two queries, whatever the depth). */
  private async cluster(c: Db, seeds: Iterable<number>): Promise<{ ids: Set<number>; links: ResolverLink[] }> {
    const start = [...new Set(seeds)];
    const reached = await c.query<{ id: number }>(
      `WITH RECURSIVE reach(id) AS (
         SELECT unnest($1::bigint[])
         UNION
         SELECT CASE WHEN l.a = r.id THEN l.b ELSE l.a END FROM reach r JOIN links l ON l.a = r.id OR l.b = r.id
       )
       SELECT id FROM reach LIMIT $2`,
      [int8Array(start), this.options.maxClusterIdentifiers + start.length],
    );
    const ids = new Set<number>(reached.rows.map((r) => r.id));
    for (const id of start) ids.add(id);
    // Both ends of a cluster's link are in the cluster: one side is enough to find it.
    const r = await c.query<{ a: number; b: number; ts: number; message_id: string; detached: boolean }>(
      'SELECT a, b, ts, message_id, detached FROM links WHERE a = ANY($1::bigint[])',
      [int8Array([...ids])],
    );
    const links: ResolverLink[] = r.rows.map((row) => ({
      a: row.a,
      b: row.b,
      ts: row.ts,
      messageId: row.message_id,
      detached: row.detached,
    }));
    return { ids, links };
  }

  /**
   * Locks every identifier of the clusters around `seeds` (row locks, in id order), re-reading the
   * clusters until they stop growing: afterwards no other transaction can change them until commit.
   */
  async lockClusters(c: Db, seeds: Iterable<number>): Promise<Set<number>> {
    const locked = new Set<number>();
    let { ids } = await this.cluster(c, seeds);
    for (;;) {
      const todo = [...ids].filter((id) => !locked.has(id)).sort((x, y) => x - y);
      if (todo.length === 0) return locked;
      const got = await c.query('SELECT id FROM identifiers WHERE id = ANY($1::bigint[]) ORDER BY id FOR UPDATE', [
        int8Array(todo),
      ]);
      // An identifier vanished while we waited: a concurrent erasure. Retried whole, the events
      // carrying it are then dropped as suppressed instead of linking to a deleted person.
      if (got.rows.length < todo.length) throw identityConflict('an identifier was erased while linking');
      for (const id of todo) locked.add(id);
      ({ ids } = await this.cluster(c, locked));
    }
  }

  /** Replays the clusters around `seeds` and rewrites their memberships and identity history. */
  async replay(c: Db, seeds: Iterable<number>): Promise<number[]> {
    const { ids, links } = await this.cluster(c, seeds);
    const r = await c.query<{
      id: number;
      type: IdentifierType;
      value: string;
      first_ts: number;
      first_msg: string;
      alias_only: boolean;
    }>('SELECT id, type, value, first_ts, first_msg, alias_only FROM identifiers WHERE id = ANY($1::bigint[])', [
      int8Array([...ids]),
    ]);
    const nodes = new Map<number, ResolverNode>(
      r.rows.map((n) => [
        n.id,
        { id: n.id, type: n.type, value: n.value, firstTs: n.first_ts, firstMsg: n.first_msg, aliasOnly: n.alias_only },
      ]),
    );
    const list = [...nodes.values()];
    // Disjoint clusters never interact in the replay, so one call covers all of them.
    const result = resolveCluster(list, links, this.options.caps);
    const pidOf = (founderId: number) => {
      const f = nodes.get(founderId) as ResolverNode;
      return profileId(this.options.salt, f.type, f.value);
    };
    const all = list.map((n) => n.id);
    // A one-identifier profile has no profiles row (ensureIdentifiers): before the replay moves
    // its founder's memberships, the row is written, so that id keeps leading to its survivor.
    await c.query(
      `INSERT INTO profiles (id, founder_id)
       SELECT m.profile_id, m.identifier_id
       FROM unnest($1::bigint[], $2::text[]) AS u(id, pid)
       JOIN memberships m ON m.identifier_id = u.id AND m.profile_id = u.pid
       ON CONFLICT DO NOTHING`,
      [int8Array(all), textArray(all.map(pidOf))],
    );
    await c.query('DELETE FROM memberships WHERE identifier_id = ANY($1::bigint[])', [int8Array(all)]);
    await c.query('DELETE FROM identity_log WHERE identifier_id = ANY($1::bigint[])', [int8Array(all)]);
    const m = result.memberships;
    const pids = m.map((x) => pidOf(x.founderId));
    await c.query(
      'INSERT INTO profiles (id, founder_id) SELECT * FROM unnest($1::text[], $2::bigint[]) ON CONFLICT DO NOTHING',
      [textArray(pids), int8Array(m.map((x) => x.founderId))],
    );
    await c.query(
      'INSERT INTO memberships (identifier_id, from_ts, profile_id) SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[])',
      [int8Array(m.map((x) => x.identifierId)), int8Array(m.map((x) => x.fromTs)), textArray(pids)],
    );
    const log: [number, string, number, string, string][] = [];
    for (const e of result.log) {
      const detail = JSON.stringify(e.detail);
      for (const id of new Set(e.identifierIds)) log.push([id, e.kind, e.ts, e.messageId, detail]);
    }
    if (log.length > 0) {
      await c.query(
        `INSERT INTO identity_log (identifier_id, kind, ts, message_id, detail)
         SELECT * FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::text[], $5::text[])`,
        [
          int8Array(log.map((row) => row[0])),
          textArray(log.map((row) => row[1])),
          int8Array(log.map((row) => row[2])),
          textArray(log.map((row) => row[3])),
          textArray(log.map((row) => row[4])),
        ],
      );
    }
    return all;
  }
}
