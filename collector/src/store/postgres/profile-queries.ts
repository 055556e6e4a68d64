import type { IdentifierType } from '../../identity/identifiers.js';
import { BEGINNING } from '../../identity/resolve.js';
import { END } from '../../identity/shared-device.js';
import type { Member } from '../profile-view.js';
import type { Db } from './connection.js';

export { END, type Member };

/**
 * The profile an id stands for now: itself, or the profile that absorbed it (through the
 * identifier that founded it). Null when the id was never issued or its person was erased.
 */
export async function currentProfileId(db: Db, pid: string): Promise<string | null> {
  const r = await db.query<{ live: boolean; now: string | null }>(
    `SELECT EXISTS (SELECT 1 FROM memberships WHERE profile_id = $1) AS live,
            (SELECT m.profile_id FROM profiles p JOIN memberships m ON m.identifier_id = p.founder_id
              WHERE p.id = $1 AND m.from_ts = ${BEGINNING}) AS now`,
    [pid],
  );
  const row = r.rows[0];
  const found = row?.live ? pid : (row?.now ?? null);
  return found === null || (await isNoOne(db, found)) ? null : found;
}

/**
 * A profile made only of alias-only identifiers is no one: the reading of an alias's previousId
 * that the alias did not mean (resolve.ts), which no event carries in its own field. Recorded so
 * that the choice can follow the set of events; never shown as a person.
 */
async function isNoOne(db: Db, pid: string): Promise<boolean> {
  const r = await db.query(
    `SELECT 1 FROM memberships m JOIN identifiers i ON i.id = m.identifier_id
     WHERE m.profile_id = $1 AND NOT i.alias_only LIMIT 1`,
    [pid],
  );
  return r.rows.length === 0;
}

/** SQL counting the profiles that are no one (see `isNoOne`): subtracted from profile counts. */
export const NO_ONE_PROFILES_SQL = `SELECT count(DISTINCT m.profile_id) FROM identifiers i
  JOIN memberships m ON m.identifier_id = i.id
  WHERE i.alias_only AND NOT EXISTS (
    SELECT 1 FROM memberships o JOIN identifiers oi ON oi.id = o.identifier_id
    WHERE o.profile_id = m.profile_id AND NOT oi.alias_only)`;

/** The profile's identifiers with the time ranges in which each belongs to it. */
export async function profileMembers(db: Db, pid: string): Promise<Member[]> {
  const r = await db.query<{ id: number; type: IdentifierType; value: string; from_ts: number; profile_id: string }>(
    `SELECT i.id, i.type, i.value, m.from_ts, m.profile_id
     FROM identifiers i JOIN memberships m ON m.identifier_id = i.id
     WHERE i.id IN (SELECT identifier_id FROM memberships WHERE profile_id = $1)
     ORDER BY i.id, m.from_ts`,
    [pid],
  );
  const byId = new Map<number, { type: IdentifierType; value: string; segs: [number, string][] }>();
  for (const row of r.rows) {
    let e = byId.get(row.id);
    if (!e) {
      e = { type: row.type, value: row.value, segs: [] };
      byId.set(row.id, e);
    }
    e.segs.push([row.from_ts, row.profile_id]);
  }
  const members: Member[] = [];
  for (const [id, e] of byId) {
    const ranges: [number, number][] = [];
    for (let i = 0; i < e.segs.length; i++) {
      const [from, owner] = e.segs[i] as [number, string];
      if (owner !== pid) continue;
      ranges.push([from, (e.segs[i + 1]?.[0] as number | undefined) ?? END]);
    }
    members.push({ id, type: e.type, value: e.value, ranges });
  }
  return members.sort((a, b) => (a.type === b.type ? (a.value < b.value ? -1 : 1) : a.type < b.type ? -1 : 1));
}

/**
 * SQL condition on `event_owners` (with $n parameters from `first`) selecting the events
 * attributed to a profile: events of its userIds, and events without a userId from its anonymous
 * IDs within the times they belong to it. An event's owner is its userId's identifier when it has
 * one, else its anonymous ID's, so "owner is the anonymous ID" already means "no userId".
 */
export function attributionFilter(members: Member[], first = 1): { where: string; params: unknown[] } {
  const parts: string[] = [];
  const params: unknown[] = [];
  const p = (v: unknown) => {
    params.push(v);
    return `$${first + params.length - 1}`;
  };
  const users = members.filter((m) => m.type === 'userId').map((m) => m.id);
  if (users.length > 0) parts.push(`owner = ANY(${p(users)}::bigint[])`);
  for (const m of members) {
    if (m.type !== 'anonymousId') continue;
    for (const [from, to] of m.ranges) {
      parts.push(`(owner = ${p(m.id)} AND ts >= ${p(from)} AND ts < ${p(to)})`);
    }
  }
  return { where: parts.length > 0 ? parts.join(' OR ') : 'false', params };
}
