import { namesAny, namingLinks } from '../../identity/carried-identifiers.js';
import { type ErasedPeriod, erasedPeriodRows } from '../../identity/erased-periods.js';
import type { IdentityConfig } from '../../identity/identifiers.js';
import { identifierHash, profileIdFromHash, suppressionHash } from '../../identity/profile-id.js';
import { BEGINNING } from '../../identity/resolve.js';
import { belongsToOthersToo, END, firstAfterErasure } from '../../identity/shared-device.js';
import { linksToDetach, undoneByUnmerge } from '../../identity/unmerge.js';
import type { IdentityWriter } from './identity-writer.js';
import type { SqliteDatabase } from './open.js';
import { attributionFilter, type Member, profileIdOf, profileMembers, resolveProfile } from './profile-queries.js';
import { readHistory } from './profile-reader.js';

export interface EraseResult {
  profileId: string;
  events: number;
  identifiers: number;
}

/**
 * The erase's outcome plus the suppression hashes of its identifiers and its periods on shared
 * devices, for the writer's memory: the
 * caller adds them only once the transaction committed (a rolled-back erase must suppress nothing).
 */
export interface EraseOutcome {
  result: EraseResult;
  suppressed: string[];
  periods: ErasedPeriod[];
}

/**
 * GDPR erasure, on the writer thread: deletes the profile's events, traits, identifiers, links and
 * history, and suppresses its identifiers (hashed) so later events carrying them are dropped
 * instead of re-creating the person.
 */
export function eraseProfile(
  db: SqliteDatabase,
  identity: IdentityWriter,
  salt: string,
  config: IdentityConfig,
  requested: string,
): EraseOutcome | null {
  const founder = resolveProfile(db, requested);
  if (founder === null) return null;
  const pid = profileIdOf(db, founder);
  const members = profileMembers(db, founder);
  // A shared device stays (with the other person's events on it); only its time here is erased.
  const kept = members.filter(belongsToOthersToo);
  const gone = members.filter((m) => !belongsToOthersToo(m));
  // The unused reading of an alias's previousId (resolve.ts) holds the same value: it goes too.
  const twin = db
    .prepare('SELECT id FROM identifiers WHERE key_hash = ? AND type = ? AND value = ? AND alias_only = 1')
    .pluck();
  for (const m of [...gone]) {
    const other = m.type === 'userId' ? 'anonymousId' : m.type === 'anonymousId' ? 'userId' : null;
    if (!other) continue;
    const id = twin.get(identifierHash(salt, other, m.value), other, m.value) as number | undefined;
    if (id !== undefined && !gone.some((g) => g.id === id)) {
      gone.push({ id, type: other, value: m.value, ranges: [[BEGINNING, END]] });
    }
  }
  const goneIds = gone.map((m) => m.id);
  const { where, ownerWhere, params } = attributionFilter(members);
  const events =
    db.prepare(`DELETE FROM events WHERE ${where}`).run(...params).changes +
    eraseSetAside(db, config, gone) +
    eraseNaming(db, config, gone);
  db.prepare(`DELETE FROM event_owner WHERE ${ownerWhere}`).run(...params);
  const neighbours = new Set<number>();
  const linksOf = db.prepare('SELECT a, b FROM links WHERE a = ? OR b = ?').raw();
  const erased = db.prepare('INSERT OR IGNORE INTO erased_profiles (id, at) VALUES (?, ?)');
  const suppressed: string[] = [];
  erased.run(pid, Date.now());
  // Any member may have founded a profile that was merged into this one: all those ids are erased.
  const keyHash = db.prepare('SELECT key_hash FROM identifiers WHERE id = ?').pluck();
  for (const m of gone) {
    erased.run(profileIdFromHash(keyHash.get(m.id) as number), Date.now());
    for (const [a, b] of linksOf.all(m.id, m.id) as [number, number][]) {
      for (const x of [a, b]) if (!goneIds.includes(x)) neighbours.add(x);
    }
    const hash = suppressionHash(salt, m.type, m.value);
    db.prepare('INSERT OR IGNORE INTO suppressed (hash) VALUES (?)').run(hash);
    suppressed.push(hash);
    for (const sql of [
      'DELETE FROM trait_writes WHERE identifier_id = ?',
      'DELETE FROM links WHERE a = @id OR b = @id',
      'DELETE FROM device_identifies WHERE device = @id OR user_ident = @id',
      'DELETE FROM memberships WHERE identifier_id = ?',
      'DELETE FROM identity_log WHERE identifier_id = ?',
      'DELETE FROM admin_log WHERE identifier_id = ?',
      'DELETE FROM identifiers WHERE id = ?',
    ]) {
      db.prepare(sql.replaceAll('?', '@id')).run({ id: m.id });
    }
  }
  const firstLink = db
    .prepare('SELECT ts, message_id FROM links WHERE a = ? OR b = ? ORDER BY ts, message_id LIMIT 1')
    .raw();
  const periods = erasedPeriodRows(salt, kept);
  const period = db.prepare('INSERT OR IGNORE INTO suppressed_periods (hash, from_ts, to_ts) VALUES (?, ?, ?)');
  for (const row of periods) period.run(...row);
  for (const m of kept) {
    for (const [from, to] of m.ranges) {
      db.prepare('DELETE FROM trait_writes WHERE identifier_id = ? AND ts >= ? AND ts < ?').run(m.id, from, to);
    }
    // Its history is rewritten by the replay below, without the erased person.
    db.prepare('DELETE FROM identity_log WHERE identifier_id = ?').run(m.id);
    const first = firstLink.get(m.id, m.id) as [number, string] | undefined;
    if (first) {
      const f = firstAfterErasure({ ts: first[0], messageId: first[1] });
      db.prepare('UPDATE identifiers SET first_ts = ?, first_msg = ? WHERE id = ?').run(f.ts, f.msg, m.id);
    }
    neighbours.add(m.id);
  }
  // A hub that lost links may be one no longer: its cluster is then replayed whole, with it.
  identity.unmarkHubs(neighbours);
  identity.resetCaches();
  // Profiles that were kept apart from this one by refused links, and shared devices, are replayed without it.
  for (const n of neighbours) identity.recomputeCluster(n, Number.POSITIVE_INFINITY);
  return { result: { profileId: pid, events, identifiers: gone.length }, suppressed, periods };
}

/**
 * Events set aside because their identity failed (identity-applier.ts) are attributed to no one,
 * so the attribution above does not find them: those that carry an erased identifier go too.
 */
function eraseSetAside(db: SqliteDatabase, config: IdentityConfig, gone: readonly Member[]): number {
  const erased = new Set(gone.map((m) => `${m.type}:${m.value}`));
  const rows = db
    .prepare('SELECT e.id, e.payload FROM identity_failures f JOIN events e ON e.id = f.event_id')
    .raw()
    .all() as [number, string][];
  const deleteEvent = db.prepare('DELETE FROM events WHERE id = ?');
  const deleteFailure = db.prepare('DELETE FROM identity_failures WHERE event_id = ?');
  let n = 0;
  for (const [id, payload] of rows) {
    if (!namesAny(payload, erased, config)) continue;
    n += deleteEvent.run(id).changes;
    deleteFailure.run(id);
  }
  return n;
}

/**
 * Other people's events naming the person (carried-identifiers.ts, namingLinks) go too, with the
 * trait writes they made: their profiles keep their own events. Before the links are deleted.
 */
function eraseNaming(db: SqliteDatabase, config: IdentityConfig, gone: readonly Member[]): number {
  const erased = new Set(gone.map((m) => `${m.type}:${m.value}`));
  const linksOf = db.prepare('SELECT a, b, ts, message_id FROM links WHERE a = ? OR b = ?').raw();
  const links = gone.flatMap((m) =>
    (linksOf.all(m.id, m.id) as [number, number, number, string][]).map(([a, b, ts, messageId]) => ({
      a,
      b,
      ts,
      messageId,
    })),
  );
  const events = db
    .prepare(
      `SELECT e.id, e.payload FROM event_owner o JOIN events e ON e.id = o.event_id
       WHERE o.owner = ? AND o.ts = ? AND e.message_id = ?`,
    )
    .raw();
  const deleteEvent = db.prepare('DELETE FROM events WHERE id = ?');
  const deleteOwner = db.prepare('DELETE FROM event_owner WHERE owner = ? AND ts = ? AND event_id = ?');
  const deleteTraits = db.prepare('DELETE FROM trait_writes WHERE identifier_id = ? AND message_id = ?');
  let n = 0;
  for (const { other, ts, messageId } of namingLinks(new Set(gone.map((m) => m.id)), links)) {
    for (const [id, payload] of events.all(other, ts, messageId) as [number, string][]) {
      if (!namesAny(payload, erased, config)) continue;
      n += deleteEvent.run(id).changes;
      deleteOwner.run(other, ts, id);
      deleteTraits.run(other, messageId);
    }
  }
  return n;
}

export interface UnmergeResult {
  profileId: string;
  detachedProfileId: string | null;
  detachedLinks: number;
}

/**
 * Detaches one identifier from a profile: its links to the profile's core (the part holding the
 * userId, or the founder) are cut and ignored from then on; the cluster is replayed without them.
 */
export function unmergeIdentifier(
  db: SqliteDatabase,
  identity: IdentityWriter,
  requested: string,
  type: string,
  value: string,
): UnmergeResult | { error: 'profile' | 'identifier' | 'alone' } {
  const founder = resolveProfile(db, requested);
  if (founder === null) return { error: 'profile' };
  const pid = profileIdOf(db, founder);
  const members = profileMembers(db, founder);
  const target = members.find((m) => m.type === type && m.value === value);
  if (!target) return { error: 'identifier' };
  const linksOf = db.prepare('SELECT a, b FROM links WHERE (a = @id OR b = @id) AND detached = 0').raw();
  const links = new Map<string, { a: number; b: number }>();
  for (const m of members) {
    for (const [a, b] of linksOf.all({ id: m.id }) as [number, number][]) links.set(`${a}:${b}`, { a, b });
  }
  const plan = linksToDetach(members, [...links.values()], target.id, founder);
  if (!plan) return { error: 'alone' };
  const anchor = { id: plan.anchorId };
  const historyBefore = readHistory(db, pid);
  let detachedLinks = 0;
  const detach = db.prepare('UPDATE links SET detached = 1 WHERE a = ? AND b = ?');
  for (const { a, b } of plan.detach) detachedLinks += detach.run(a, b).changes;
  identity.resetCaches();
  identity.recomputeCluster(target.id, Number.POSITIVE_INFINITY);
  identity.recomputeCluster(anchor.id, Number.POSITIVE_INFINITY);
  const after = db
    .prepare('SELECT founder_id FROM memberships WHERE identifier_id = ? ORDER BY from_ts DESC LIMIT 1')
    .pluck()
    .get(target.id) as number | undefined;
  const now = db
    .prepare('SELECT founder_id FROM memberships WHERE identifier_id = ? AND from_ts = ?')
    .pluck()
    .get(anchor.id, BEGINNING) as number | undefined;
  const profileId = now === undefined ? pid : profileIdOf(db, now);
  // Written after the replay, which rewrites the history: the entry keeps what the replay took out.
  const historyAfter = readHistory(db, profileId);
  const undone = historyBefore && historyAfter ? undoneByUnmerge(historyBefore, historyAfter) : {};
  const detail = JSON.stringify({ identifier: `${type}:${value}`, from: pid, detachedLinks, ...undone });
  const log = db.prepare('INSERT INTO admin_log (identifier_id, kind, at, detail) VALUES (?, ?, ?, ?)');
  // One time for both rows: the history shows them as one entry where both sides meet again.
  const at = Date.now();
  log.run(target.id, 'unmerge', at, detail);
  log.run(anchor.id, 'unmerge', at, detail);
  return {
    profileId,
    detachedProfileId: after === undefined ? null : profileIdOf(db, after),
    detachedLinks,
  };
}
