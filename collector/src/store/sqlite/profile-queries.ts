import type { IdentifierType } from '../../identity/identifiers.js';
import { hashFromProfileId, liveProfileId, profileIdFromHash, reserveHash } from '../../identity/profile-id.js';
import { BEGINNING, older } from '../../identity/resolve.js';
import { END } from '../../identity/shared-device.js';
import type { Member } from '../profile-view.js';
import type { SqliteDatabase } from './open.js';

export { END, type Member };

/** The public id of the profile a founder identifier founded: derived from its key hash (see `liveProfileId`). */
export function profileIdOf(db: SqliteDatabase, founderId: number): string {
  const hash = db.prepare('SELECT key_hash FROM identifiers WHERE id = ?').pluck().get(founderId) as number;
  const pid = profileIdFromHash(hash);
  const erased = db.prepare('SELECT 1 FROM erased_profiles WHERE id = ?').pluck();
  if (erased.get(pid) === undefined) return pid;
  const members = db
    .prepare(
      `SELECT i.key_hash AS hash, i.type, i.value, i.first_ts AS firstTs, i.first_msg AS firstMsg
       FROM memberships m JOIN identifiers i ON i.id = m.identifier_id
       WHERE m.founder_id = ? AND m.from_ts = ? AND i.id <> ? AND i.alias_only = 0`,
    )
    .all(founderId, BEGINNING, founderId) as {
    hash: number;
    type: IdentifierType;
    value: string;
    firstTs: number;
    firstMsg: string;
  }[];
  const ids = [
    ...members.sort((x, y) => (older(x, y) ? -1 : 1)).map((m) => profileIdFromHash(m.hash)),
    profileIdFromHash(reserveHash(hash)),
  ];
  return liveProfileId([pid, ...ids], new Set([pid, ...ids.filter((id) => erased.get(id) !== undefined)]));
}

/**
 * The founder of the profile an id stands for now: the profile itself, or the one that absorbed it
 * (through the identifier that founded it). Null when the id was never issued or its person erased.
 */
export function resolveProfile(db: SqliteDatabase, pid: string): number | null {
  const founder = foundedBy(db, pid);
  return founder === null || isNoOne(db, founder) ? null : founder;
}

function foundedBy(db: SqliteDatabase, pid: string): number | null {
  const hash = hashFromProfileId(pid);
  if (hash === null) return null;
  const candidates = db.prepare('SELECT id FROM identifiers WHERE key_hash = ?').pluck().all(hash) as number[];
  const live = db.prepare('SELECT 1 FROM memberships WHERE founder_id = ? LIMIT 1').pluck();
  for (const c of candidates) if (live.get(c) !== undefined) return c;
  const base = db.prepare('SELECT founder_id FROM memberships WHERE identifier_id = ? AND from_ts = ?').pluck();
  for (const c of candidates) {
    const founder = base.get(c, BEGINNING) as number | undefined;
    if (founder !== undefined) return founder;
  }
  // A reserve id (profileIdOf): the founder is the identifier it stands in for.
  const reserved = db
    .prepare('SELECT id FROM identifiers WHERE key_hash = ?')
    .pluck()
    .all(reserveHash(hash)) as number[];
  for (const c of reserved) if (live.get(c) !== undefined) return c;
  return null;
}

/**
 * A profile made only of alias-only identifiers is no one: the reading of an alias's previousId
 * that the alias did not mean (resolve.ts), which no event carries in its own field. Recorded so
 * that the choice can follow the set of events; never shown as a person.
 */
function isNoOne(db: SqliteDatabase, founderId: number): boolean {
  return (
    db
      .prepare(
        `SELECT 1 FROM memberships m JOIN identifiers i ON i.id = m.identifier_id
         WHERE m.founder_id = ? AND i.alias_only = 0 LIMIT 1`,
      )
      .get(founderId) === undefined
  );
}

/** SQL counting the profiles that are no one (see `isNoOne`): subtracted from profile counts. */
export const NO_ONE_PROFILES_SQL = `SELECT count(*) FROM identifiers i WHERE i.alias_only = 1
  AND EXISTS (SELECT 1 FROM memberships m WHERE m.founder_id = i.id)
  AND NOT EXISTS (SELECT 1 FROM memberships m JOIN identifiers o ON o.id = m.identifier_id
                  WHERE m.founder_id = i.id AND o.alias_only = 0)`;

/** The profile's identifiers with the time ranges in which each belongs to it. */
export function profileMembers(db: SqliteDatabase, founderId: number): Member[] {
  const ids = db
    .prepare('SELECT DISTINCT identifier_id FROM memberships WHERE founder_id = ?')
    .pluck()
    .all(founderId) as number[];
  const members: Member[] = [];
  const ident = db.prepare('SELECT type, value FROM identifiers WHERE id = ?').raw();
  const segs = db.prepare('SELECT from_ts, founder_id FROM memberships WHERE identifier_id = ? ORDER BY from_ts').raw();
  for (const id of ids) {
    const row = ident.get(id) as [IdentifierType, string] | undefined;
    if (!row) continue;
    const list = segs.all(id) as [number, number][];
    const ranges: [number, number][] = [];
    for (let i = 0; i < list.length; i++) {
      const [from, owner] = list[i] as [number, number];
      if (owner !== founderId) continue;
      ranges.push([from, (list[i + 1]?.[0] as number | undefined) ?? END]);
    }
    members.push({ id, type: row[0], value: row[1], ranges });
  }
  return members.sort((a, b) => (a.type === b.type ? (a.value < b.value ? -1 : 1) : a.type < b.type ? -1 : 1));
}

/**
 * SQL condition on `events` (and its parameters) selecting the events attributed to a profile:
 * events of its userIds, and events without a userId from its anonymous IDs within the times they
 * belong to it. `event_owner` holds the userId for events that have one, else the anonymous ID.
 */
export function attributionFilter(members: Member[]): {
  where: string;
  /** The same selection as a condition on `event_owner` rows. */
  ownerWhere: string;
  params: number[];
} {
  const parts: string[] = [];
  const params: number[] = [];
  const users = members.filter((m) => m.type === 'userId');
  if (users.length > 0) {
    parts.push(`owner IN (${users.map(() => '?').join(',')})`);
    params.push(...users.map((m) => m.id));
  }
  for (const m of members) {
    if (m.type !== 'anonymousId') continue;
    for (const [from, to] of m.ranges) {
      parts.push('(owner = ? AND ts >= ? AND ts < ?)');
      params.push(m.id, from, to);
    }
  }
  if (parts.length === 0) return { where: '0', ownerWhere: '0', params };
  const ownerWhere = parts.join(' OR ');
  return { where: `id IN (SELECT event_id FROM event_owner WHERE ${ownerWhere})`, ownerWhere, params };
}
