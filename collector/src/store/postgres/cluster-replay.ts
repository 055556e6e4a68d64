import type { IdentifierType } from '../../identity/identifiers.js';
import { identifierHash, liveProfileId, profileId, profileIdFromHash, reserveHash } from '../../identity/profile-id.js';
import {
  BEGINNING,
  hubReason,
  type Membership,
  older,
  parkedReason,
  type ResolverCaps,
  type ResolverNode,
  resolveCluster,
} from '../../identity/resolve.js';
import { identifyLinks, sharedDevices } from '../../identity/shared-device.js';
import { int8Array, textArray } from './binary-arrays.js';
import { readCluster } from './cluster-read.js';
import type { Db } from './connection.js';

export interface ReplayOptions {
  salt: string;
  caps: ResolverCaps;
  /**
   * Most identifiers of one cluster that ingest replays; a larger cluster keeps its profiles as they
   * were and its new links are parked (admin operations replay clusters of any size). An identifier
   * with more links than this is a hub (resolve.ts, hubReason).
   */
  maxClusterIdentifiers: number;
}

/**
 * Replays the clusters around `seeds` and rewrites their memberships and identity history. A
 * cluster past `maxClusterIdentifiers` is left as it was (readCluster): its new links are parked,
 * and the identifiers this transaction created in it (`created`) form profiles among themselves,
 * so that a new person's userId and email stay together. `walkLimit`: admin operations replay
 * clusters of any size.
 */
export async function replayClusters(
  c: Db,
  seeds: Iterable<number>,
  options: ReplayOptions,
  created: ReadonlySet<number> = new Set(),
  walkLimit = options.maxClusterIdentifiers,
): Promise<number[]> {
  const read = await readCluster(c, seeds, walkLimit);
  const parked = new Set([...read.oversized].filter((id) => created.has(id)));
  const ids = [...read.ids].filter((id) => !read.oversized.has(id) || parked.has(id));
  if (ids.length === 0) return [];
  const links = read.links.filter((l) => !read.oversized.has(l.a) || (parked.has(l.a) && parked.has(l.b)));
  const r = await c.query<{
    id: number;
    type: IdentifierType;
    value: string;
    first_ts: number;
    first_msg: string;
    alias_only: boolean;
  }>('SELECT id, type, value, first_ts, first_msg, alias_only FROM identifiers WHERE id = ANY($1::bigint[])', [
    int8Array(ids),
  ]);
  const nodes = new Map<number, ResolverNode>(
    r.rows.map((n) => [
      n.id,
      { id: n.id, type: n.type, value: n.value, firstTs: n.first_ts, firstMsg: n.first_msg, aliasOnly: n.alias_only },
    ]),
  );
  const list = [...nodes.values()];
  const shared = sharedDevices((id) => nodes.get(id), links);
  const identifies =
    shared.length === 0
      ? []
      : (
          await c.query<{ device: number; user_ident: number; ts: number; message_id: string }>(
            'SELECT device, user_ident, ts, message_id FROM device_identifies WHERE device = ANY($1::bigint[])',
            [int8Array(shared)],
          )
        ).rows.map((row) => ({ device: row.device, user: row.user_ident, ts: row.ts, messageId: row.message_id }));
  // Disjoint clusters never interact in the replay, so one call covers all of them.
  const result = resolveCluster(list, [...links, ...identifyLinks(identifies, links)], options.caps);
  const idOf = (identifierId: number) => {
    const f = nodes.get(identifierId) as ResolverNode;
    return profileId(options.salt, f.type, f.value);
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
    [int8Array(all), textArray(all.map(idOf))],
  );
  await c.query('DELETE FROM memberships WHERE identifier_id = ANY($1::bigint[])', [int8Array(all)]);
  await c.query('DELETE FROM identity_log WHERE identifier_id = ANY($1::bigint[])', [int8Array(all)]);
  const m = result.memberships;
  const pidOf = await profileIds(c, m, nodes, idOf, options.salt);
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
  const note = JSON.stringify({ reason: parkedReason(options.maxClusterIdentifiers) });
  for (const id of parked) {
    const n = nodes.get(id) as ResolverNode;
    log.push([id, 'cap_reached', n.firstTs, n.firstMsg, note]);
  }
  const hubNote = JSON.stringify({ reason: hubReason(options.maxClusterIdentifiers) });
  for (const id of read.hubs) {
    const n = nodes.get(id);
    if (n) log.push([id, 'cap_reached', n.firstTs, n.firstMsg, hubNote]);
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

/**
 * The id each founder's profile goes by (liveProfileId): its own, unless erased with a person it
 * outlived. One query per replay, and one more only where a founder's id was erased.
 */
async function profileIds(
  c: Db,
  memberships: readonly Membership[],
  nodes: ReadonlyMap<number, ResolverNode>,
  idOf: (identifierId: number) => string,
  salt: string,
): Promise<(founderId: number) => string> {
  const founders = new Map<number, string>();
  for (const x of memberships) if (!founders.has(x.founderId)) founders.set(x.founderId, idOf(x.founderId));
  const erasedAmong = async (ids: string[]) =>
    new Set(
      (
        await c.query<{ id: string }>('SELECT id FROM erased_profiles WHERE id = ANY($1::text[])', [textArray(ids)])
      ).rows.map((r) => r.id),
    );
  const erased = await erasedAmong([...founders.values()]);
  for (const [founder, pid] of founders) {
    if (!erased.has(pid)) continue;
    const others = memberships
      .filter((x) => x.founderId === founder && x.fromTs === BEGINNING && x.identifierId !== founder)
      .map((x) => nodes.get(x.identifierId) as ResolverNode)
      .filter((n) => !n.aliasOnly)
      .sort((x, y) => (older(x, y) ? -1 : 1))
      .map((n) => idOf(n.id));
    const f = nodes.get(founder) as ResolverNode;
    others.push(profileIdFromHash(reserveHash(identifierHash(salt, f.type, f.value))));
    founders.set(founder, liveProfileId([pid, ...others], new Set([pid, ...(await erasedAmong(others))])));
  }
  return (founderId) => founders.get(founderId) ?? idOf(founderId);
}
