import type { DeviceIdentify } from '../../identity/shared-device.js';
import { int8Array, textArray } from './binary-arrays.js';
import { lockClusterMembers } from './cluster-lock.js';
import { type ReplayOptions, replayClusters } from './cluster-replay.js';
import type { Db } from './connection.js';
import type { Want } from './event-identifiers.js';
import type { Ident } from './identifier-ensure.js';
import type { CandidateLink } from './link-changes.js';

/**
 * Writes what changes the graph — identifiers seen earlier than recorded, alias-only identifiers
 * seen in an event's own field, links new or earlier — under the clusters' row locks, then
 * replays the clusters that changed. Nothing to change: no lock taken.
 */
export async function updateGraph(
  c: Db,
  options: ReplayOptions,
  wanted: Map<string, Want>,
  idents: Map<string, Ident>,
  linkChanges: CandidateLink[],
  identifies: readonly DeviceIdentify[] = [],
): Promise<void> {
  const firstMoves: { id: number; ts: number; msg: string }[] = [];
  const unaliased: number[] = [];
  for (const [k, w] of wanted) {
    const found = idents.get(k) as Ident;
    if (found.earlier) {
      firstMoves.push({ id: found.id, ts: w.ts, msg: w.msg });
    }
    if (found.unalias) unaliased.push(found.id);
  }
  // Kept before any lock (a new row locks only itself); only the devices with a new row matter.
  const identified = identifies.length > 0 ? await insertIdentifies(c, identifies) : [];
  if (firstMoves.length === 0 && linkChanges.length === 0 && unaliased.length === 0 && identified.length === 0) return;
  const seeds = new Set<number>([...firstMoves.map((m) => m.id), ...unaliased, ...identified]);
  for (const l of linkChanges) seeds.add(l.a).add(l.b);
  await lockClusterMembers(c, seeds, options.maxClusterIdentifiers);
  const dirty = new Set<number>();
  // Read under the locks: a transaction that makes one of these devices shared either committed
  // (seen here) or waits for this one, and then its replay reads the new rows.
  if (identified.length > 0) for (const d of await sharedAmong(c, identified)) dirty.add(d);
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
    const changed = await c.query<{ a: number; b: number; inserted: boolean }>(
      `INSERT INTO links (a, b, ts, message_id)
       SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::text[])
       ON CONFLICT (a, b) DO UPDATE SET ts = excluded.ts, message_id = excluded.message_id
       WHERE (excluded.ts, excluded.message_id) < (links.ts, links.message_id)
       RETURNING a, b, xmax = 0 AS inserted`,
      [
        int8Array(linkChanges.map((l) => l.a)),
        int8Array(linkChanges.map((l) => l.b)),
        int8Array(linkChanges.map((l) => l.ts)),
        textArray(linkChanges.map((l) => l.msg)),
      ],
    );
    for (const r of changed.rows) dirty.add(r.a).add(r.b);
    const grown = new Set<number>();
    for (const r of changed.rows) if (r.inserted) grown.add(r.a).add(r.b);
    // A new hub's neighbours were resolved with it: they are locked and replayed without it.
    const neighbours = grown.size > 0 ? await markHubs(c, grown, options.maxClusterIdentifiers) : [];
    if (neighbours.length > 0) {
      await lockClusterMembers(c, neighbours, options.maxClusterIdentifiers);
      for (const n of neighbours) dirty.add(n);
    }
  }
  if (dirty.size > 0) {
    const created = new Set<number>();
    for (const i of idents.values()) if (i.created) created.add(i.id);
    await replayClusters(c, dirty, options, created);
  }
}

/**
 * SQL for the number of links of the identifier `id` (a column), counted up to `$2` each way:
 * enough to tell whether it has more than the limit, without counting a hub's millions.
 */
export const linkCountSql = (id: string) =>
  `(SELECT count(*) FROM ((SELECT 1 FROM links WHERE a = ${id} LIMIT $2) UNION ALL (SELECT 1 FROM links WHERE b = ${id} LIMIT $2)) AS l)`;

/**
 * Marks the identifiers among `ids` (each just gained a link, and is locked) whose links now
 * outnumber `limit` as hubs (resolve.ts, hubReason); answers the other ends of their links.
 */
async function markHubs(c: Db, ids: ReadonlySet<number>, limit: number): Promise<number[]> {
  const r = await c.query<{ id: number }>(
    `UPDATE identifiers SET hub = true WHERE id IN (
       SELECT d.id FROM unnest($1::bigint[]) AS d(id) WHERE ${linkCountSql('d.id')} > $3
     ) AND NOT hub RETURNING id`,
    [int8Array([...ids]), limit + 1, limit],
  );
  if (r.rows.length === 0) return [];
  const hubs = r.rows.map((row) => row.id);
  const others = await c.query<{ id: number }>(
    `SELECT CASE WHEN l.a = h.id THEN l.b ELSE l.a END AS id
     FROM unnest($1::bigint[]) AS h(id) JOIN links l ON l.a = h.id OR l.b = h.id`,
    [int8Array(hubs)],
  );
  return [...new Set(others.rows.map((row) => row.id))];
}

/** Inserts identify calls (shared-device.ts); answers the devices that got a new row. */
async function insertIdentifies(c: Db, identifies: readonly DeviceIdentify[]): Promise<number[]> {
  const r = await c.query<{ device: number }>(
    `INSERT INTO device_identifies (device, user_ident, ts, message_id)
     SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::text[])
     ON CONFLICT DO NOTHING RETURNING device`,
    [
      int8Array(identifies.map((d) => d.device)),
      int8Array(identifies.map((d) => d.user)),
      int8Array(identifies.map((d) => d.ts)),
      textArray(identifies.map((d) => d.messageId)),
    ],
  );
  return [...new Set(r.rows.map((row) => row.device))];
}

/** The devices among `devices` linked to two or more userIds (links not detached); hubs never move. */
async function sharedAmong(c: Db, devices: readonly number[]): Promise<number[]> {
  const r = await c.query<{ device: number }>(
    `SELECT d.device FROM unnest($1::bigint[]) AS d(device)
     JOIN identifiers h ON h.id = d.device AND NOT h.hub
     WHERE (
       SELECT count(*) FROM links l JOIN identifiers i ON i.id = CASE WHEN l.a = d.device THEN l.b ELSE l.a END
       WHERE (l.a = d.device OR l.b = d.device) AND NOT l.detached AND i.type = 'userId'
     ) >= 2`,
    [int8Array(devices)],
  );
  return r.rows.map((row) => row.device);
}
