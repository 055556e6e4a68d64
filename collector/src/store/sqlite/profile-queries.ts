import type { IdentifierType } from '../../identity/identifiers.js';
import { BEGINNING } from '../../identity/resolve.js';
import type { SqliteDatabase } from './open.js';

export const END = 8.64e15;

export interface Member {
  id: number;
  type: IdentifierType;
  value: string;
  /** Time ranges [from, to) in which the identifier belongs to the profile (anonymous IDs can change owner). */
  ranges: [number, number][];
}

/**
 * The profile an id stands for now: itself, or the profile that absorbed it (through the
 * identifier that founded it). Null when the id was never issued or its person was erased.
 */
export function currentProfileId(db: SqliteDatabase, pid: string): string | null {
  const live = db.prepare('SELECT 1 FROM memberships WHERE profile_id = ? LIMIT 1').pluck().get(pid);
  if (live !== undefined) return pid;
  const founder = db.prepare('SELECT founder_id FROM profiles WHERE id = ?').pluck().get(pid) as number | undefined;
  if (founder === undefined) return null;
  const now = db
    .prepare('SELECT profile_id FROM memberships WHERE identifier_id = ? AND from_ts = ?')
    .pluck()
    .get(founder, BEGINNING) as string | undefined;
  return now ?? null;
}

/** The profile's identifiers with the time ranges in which each belongs to it. */
export function profileMembers(db: SqliteDatabase, pid: string): Member[] {
  const ids = db
    .prepare('SELECT DISTINCT identifier_id FROM memberships WHERE profile_id = ?')
    .pluck()
    .all(pid) as number[];
  const members: Member[] = [];
  const ident = db.prepare('SELECT type, value FROM identifiers WHERE id = ?').raw();
  const segs = db.prepare('SELECT from_ts, profile_id FROM memberships WHERE identifier_id = ? ORDER BY from_ts').raw();
  for (const id of ids) {
    const row = ident.get(id) as [IdentifierType, string] | undefined;
    if (!row) continue;
    const list = segs.all(id) as [number, string][];
    const ranges: [number, number][] = [];
    for (let i = 0; i < list.length; i++) {
      const [from, owner] = list[i] as [number, string];
      if (owner !== pid) continue;
      ranges.push([from, (list[i + 1]?.[0] as number | undefined) ?? END]);
    }
    members.push({ id, type: row[0], value: row[1], ranges });
  }
  return members.sort((a, b) => (a.type === b.type ? (a.value < b.value ? -1 : 1) : a.type < b.type ? -1 : 1));
}

/**
 * SQL condition (and its parameters) selecting the events attributed to a profile: events of its
 * userIds, and events without a userId from its anonymous IDs within the times they belong to it.
 */
export function attributionFilter(members: Member[]): { where: string; params: number[] } {
  const parts: string[] = [];
  const params: number[] = [];
  const users = members.filter((m) => m.type === 'userId');
  if (users.length > 0) {
    parts.push(`user_ident IN (${users.map(() => '?').join(',')})`);
    params.push(...users.map((m) => m.id));
  }
  for (const m of members) {
    if (m.type !== 'anonymousId') continue;
    for (const [from, to] of m.ranges) {
      parts.push('(anon_ident = ? AND user_ident IS NULL AND ts >= ? AND ts < ?)');
      params.push(m.id, from, to);
    }
  }
  return { where: parts.length > 0 ? parts.join(' OR ') : '0', params };
}
