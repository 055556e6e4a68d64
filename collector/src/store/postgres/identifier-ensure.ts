import { profileId } from '../../identity/profile-id.js';
import { BEGINNING } from '../../identity/resolve.js';
import { boolArray, int8Array, textArray } from './binary-arrays.js';
import { type Db, identityConflict } from './connection.js';
import { earlier, keyOf, type Want } from './event-identifiers.js';
import type { IdentifierCache } from './identifier-cache.js';

export interface Ident {
  id: number;
  /** This commit saw the identifier before its recorded first sighting. */
  earlier: boolean;
  /** Recorded as alias-only, and this commit saw it in an event's own field. */
  unalias?: boolean;
  /** Created by this transaction. */
  created?: boolean;
}

/**
 * Ids of the identifiers, creating missing ones (each founding its own one-identifier profile).
 * One statement does the lookup and, for the missing ones only, the identifier and membership
 * inserts: a commit of new people costs one round trip instead of four.
 */
export async function ensureIdentifiers(
  c: Db,
  salt: string,
  wanted: Map<string, Want>,
  cache: IdentifierCache,
): Promise<Map<string, Ident>> {
  const found = new Map<string, Ident>();
  // Sightings that change nothing recorded are answered by the process's cache (identifier-cache.ts).
  const asked = new Map<string, Want>();
  for (const [k, w] of wanted) {
    const id = cache.hit(k, w);
    if (id === undefined) asked.set(k, w);
    else found.set(k, { id, earlier: false });
  }
  if (asked.size === 0) return found;
  const keys = [...asked.keys()];
  const list = [...asked.values()];
  // Rows carry the input's ordinal, the id and whether this commit saw the identifier earlier
  // than recorded: no identifier text travels back to be parsed and re-keyed.
  const r = await c.query<{ n: number; id: number; earlier: boolean; unalias: boolean; created: boolean }>(
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
     -- profile gets no profiles row: its id is its membership's (see cluster-replay.ts).
     joined AS (INSERT INTO memberships (identifier_id, from_ts, profile_id) SELECT id, ${BEGINNING}, pid FROM fresh)
     SELECT n, id, earlier, unalias, false AS created FROM known UNION ALL SELECT n, id, false, false, true FROM fresh`,
    [
      textArray(list.map((w) => w.type)),
      textArray(list.map((w) => w.value)),
      int8Array(list.map((w) => w.ts)),
      textArray(list.map((w) => w.msg)),
      textArray(list.map((w) => profileId(salt, w.type, w.value))),
      boolArray(list.map((w) => w.alias)),
    ],
  );
  for (const row of r.rows) found.set(keys[row.n - 1] as string, row);
  // Created by another collector after this statement's snapshot: the insert waited for its
  // commit and skipped the row, and the lookup could not see it yet; a new statement does.
  const racing = keys.filter((k) => !found.has(k)).map((k) => ({ ...(asked.get(k) as Want), k }));
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
  for (const [k, w] of asked) {
    const f = found.get(k);
    if (!f) throw identityConflict(`identifier ${w.type} was erased while linking`);
    cache.stage(k, f.id, w);
  }
  return found;
}
