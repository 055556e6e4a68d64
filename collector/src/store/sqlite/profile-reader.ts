import { identifierHash } from '../../identity/profile-id.js';
import { foldTraits, type TraitWrite } from '../../identity/traits.js';
import { inRanges, profileView, timelinePage } from '../profile-view.js';
import type { ProfileEventsPage, ProfileHistory, ProfileView } from '../store.js';
import type { SqliteDatabase } from './open.js';
import { attributionFilter, type Member, profileIdOf, profileMembers, resolveProfile } from './profile-queries.js';

const iso = (ms: number) => new Date(ms).toISOString();

function traitWritesOf(db: SqliteDatabase, members: Member[]): TraitWrite[] {
  const writes: TraitWrite[] = [];
  const q = db.prepare('SELECT ts, message_id, key, value, set_once FROM trait_writes WHERE identifier_id = ?').raw();
  for (const m of members) {
    for (const [ts, messageId, key, value, once] of q.all(m.id) as [number, string, string, string | null, number][]) {
      if (!inRanges(m, ts)) continue;
      writes.push({ ts, messageId, key, value, setOnce: once === 1 });
    }
  }
  return writes;
}

/**
 * A profile's history and its current traits, on any connection: the history API reads it, and
 * an unmerge reads it inside its transaction before and after (identity/unmerge.ts, undoneByUnmerge).
 */
export function readHistory(
  db: SqliteDatabase,
  requested: string,
): { history: ProfileHistory; traits: Record<string, unknown> } | null {
  const founder = resolveProfile(db, requested);
  if (founder === null) return null;
  const pid = profileIdOf(db, founder);
  const members = profileMembers(db, founder);
  const seen = new Set<string>();
  const identity: ProfileHistory['identity'] = [];
  const q = db.prepare('SELECT kind, ts, message_id, detail FROM identity_log WHERE identifier_id = ?').raw();
  const admin = db.prepare('SELECT kind, at, detail FROM admin_log WHERE identifier_id = ?').raw();
  for (const m of members) {
    for (const [kind, ts, messageId, detail] of q.all(m.id) as [string, number, string | null, string][]) {
      const k = `${kind}|${ts}|${messageId}|${detail}`;
      if (seen.has(k)) continue;
      seen.add(k);
      identity.push({ kind, timestamp: iso(ts), messageId, ...(JSON.parse(detail) as object) });
    }
    for (const [kind, at, detail] of admin.all(m.id) as [string, number, string][]) {
      const k = `${kind}|${at}|${detail}`;
      if (seen.has(k)) continue;
      seen.add(k);
      identity.push({ kind, timestamp: iso(at), messageId: null, ...(JSON.parse(detail) as object) });
    }
  }
  identity.sort((a, b) => (a.timestamp < b.timestamp ? -1 : a.timestamp > b.timestamp ? 1 : 0));
  const folded = foldTraits(traitWritesOf(db, members));
  return { history: { profileId: pid, traits: folded.history, identity }, traits: folded.traits };
}

/** Profile reads for the admin API, on the reader thread's connection (reader-worker.ts). */
export class ProfileReader {
  constructor(
    private readonly db: SqliteDatabase,
    private readonly salt: string,
  ) {}

  findByIdentifier(type: string, value: string): string | null {
    const id = this.db
      .prepare('SELECT id FROM identifiers WHERE key_hash = ? AND type = ? AND value = ?')
      .pluck()
      .get(identifierHash(this.salt, type, value), type, value) as number | undefined;
    if (id === undefined) return null;
    // The owner now: the latest segment (a shared device belongs to its latest user).
    const founder = this.db
      .prepare('SELECT founder_id FROM memberships WHERE identifier_id = ? ORDER BY from_ts DESC LIMIT 1')
      .pluck()
      .get(id) as number | undefined;
    return founder === undefined ? null : profileIdOf(this.db, founder);
  }

  getProfile(requested: string): ProfileView | null {
    const founder = resolveProfile(this.db, requested);
    if (founder === null) return null;
    const pid = profileIdOf(this.db, founder);
    const members = profileMembers(this.db, founder);
    const { where, params } = attributionFilter(members);
    const stats = this.db
      .prepare(`SELECT count(*) AS n, min(ts) AS first, max(ts) AS last FROM events WHERE ${where}`)
      .get(...params) as { n: number; first: number | null; last: number | null };
    return profileView(pid, requested, members, traitWritesOf(this.db, members), stats);
  }

  events(requested: string, limit: number, before?: string): ProfileEventsPage | null {
    const founder = resolveProfile(this.db, requested);
    if (founder === null) return null;
    const pid = profileIdOf(this.db, founder);
    const { where, params } = attributionFilter(profileMembers(this.db, founder));
    // Cursor "ts:id": the timeline is ordered by event time, then receipt.
    let cursor = '';
    const cursorParams: number[] = [];
    if (before) {
      const [ts, id] = before.split(':').map(Number);
      cursor = 'AND (ts < ? OR (ts = ? AND id < ?))';
      cursorParams.push(ts as number, ts as number, id as number);
    }
    const rows = this.db
      .prepare(`SELECT id, ts, payload FROM events WHERE (${where}) ${cursor} ORDER BY ts DESC, id DESC LIMIT ?`)
      .all(...params, ...cursorParams, limit + 1) as { id: number; ts: number; payload: string }[];
    return timelinePage(pid, rows, limit);
  }

  setAside(): Record<string, unknown>[] {
    const rows = this.db
      .prepare('SELECT e.payload FROM identity_failures f JOIN events e ON e.id = f.event_id ORDER BY e.id')
      .pluck()
      .all() as string[];
    return rows.map((p) => JSON.parse(p) as Record<string, unknown>);
  }

  history(requested: string): ProfileHistory | null {
    return readHistory(this.db, requested)?.history ?? null;
  }

  /** Profiles whose current trait `name` equals `value` (JSON-compared), by id, paginated. */
  listByTrait(
    name: string,
    values: readonly unknown[],
    limit: number,
    cursor?: string,
  ): { profiles: ProfileView[]; nextCursor: string | null } {
    const jsons = values.map((v) => JSON.stringify(v));
    const candidates = this.db
      .prepare(
        `SELECT DISTINCT identifier_id FROM trait_writes WHERE key = ? AND value IN (${jsons.map(() => '?').join(', ')})`,
      )
      .pluck()
      .all(name, ...jsons) as number[];
    const pids = new Set<string>();
    const owner = this.db.prepare('SELECT founder_id FROM memberships WHERE identifier_id = ?').pluck();
    for (const id of candidates) for (const f of owner.all(id) as number[]) pids.add(profileIdOf(this.db, f));
    const sorted = [...pids].sort().filter((p) => cursor === undefined || p > cursor);
    const profiles: ProfileView[] = [];
    let last: string | null = null;
    for (const pid of sorted) {
      const view = this.getProfile(pid);
      if (!view || !jsons.includes(JSON.stringify(view.traits[name]))) continue;
      if (profiles.length === limit) return { profiles, nextCursor: last };
      profiles.push(view);
      last = pid;
    }
    return { profiles, nextCursor: null };
  }
}
