import { foldTraits, type TraitWrite } from '../../identity/traits.js';
import { inRanges, profileView, timelinePage } from '../profile-view.js';
import type { ProfileEventsPage, ProfileHistory, ProfileView } from '../store.js';
import type { Db } from './connection.js';
import { attributionFilter, currentProfileId, type Member, profileMembers } from './profile-queries.js';

const iso = (ms: number) => new Date(ms).toISOString();

async function traitWritesOf(db: Db, members: Member[]): Promise<TraitWrite[]> {
  const r = await db.query<{
    identifier_id: number;
    ts: number;
    message_id: string;
    key: string;
    value: string | null;
    set_once: boolean;
  }>(
    'SELECT identifier_id, ts, message_id, key, value, set_once FROM trait_writes WHERE identifier_id = ANY($1::bigint[])',
    [members.map((m) => m.id)],
  );
  const byId = new Map(members.map((m) => [m.id, m]));
  const writes: TraitWrite[] = [];
  for (const w of r.rows) {
    const m = byId.get(w.identifier_id);
    if (!m || !inRanges(m, w.ts)) continue;
    writes.push({ ts: w.ts, messageId: w.message_id, key: w.key, value: w.value, setOnce: w.set_once });
  }
  return writes;
}

/**
 * A profile's history and its current traits, on any connection: the history API reads it, and
 * an unmerge reads it inside its transaction before and after (identity/unmerge.ts, undoneByUnmerge).
 */
export async function readHistory(
  db: Db,
  requested: string,
): Promise<{ history: ProfileHistory; traits: Record<string, unknown> } | null> {
  const pid = await currentProfileId(db, requested);
  if (pid === null) return null;
  const members = await profileMembers(db, pid);
  const ids = members.map((m) => m.id);
  const seen = new Set<string>();
  const identity: ProfileHistory['identity'] = [];
  // Per member (in the members' order), its replay history then its admin actions, as on SQLite.
  const logs = await db.query<{
    identifier_id: number;
    kind: string;
    ts: number;
    message_id: string | null;
    detail: string;
    admin: boolean;
  }>(
    `SELECT identifier_id, kind, ts, message_id, detail, false AS admin, id FROM identity_log
       WHERE identifier_id = ANY($1::bigint[])
     UNION ALL SELECT identifier_id, kind, at, NULL, detail, true, id FROM admin_log
       WHERE identifier_id = ANY($1::bigint[])
     ORDER BY admin, id`,
    [ids],
  );
  const byMember = new Map<number, typeof logs.rows>();
  for (const row of logs.rows) byMember.set(row.identifier_id, [...(byMember.get(row.identifier_id) ?? []), row]);
  for (const id of ids) {
    for (const { kind, ts, message_id, detail, admin } of byMember.get(id) ?? []) {
      const k = admin ? `${kind}|${ts}|${detail}` : `${kind}|${ts}|${message_id}|${detail}`;
      if (seen.has(k)) continue;
      seen.add(k);
      identity.push({ kind, timestamp: iso(ts), messageId: message_id, ...(JSON.parse(detail) as object) });
    }
  }
  identity.sort((a, b) => (a.timestamp < b.timestamp ? -1 : a.timestamp > b.timestamp ? 1 : 0));
  const folded = foldTraits(await traitWritesOf(db, members));
  return { history: { profileId: pid, traits: folded.history, identity }, traits: folded.traits };
}

/** Profile reads for the admin API, on the pool (each read sees committed state). */
export class PgProfileReader {
  constructor(private readonly db: Db) {}

  async setAside(): Promise<Record<string, unknown>[]> {
    const r = await this.db.query<{ payload: string }>(
      `SELECT e.payload FROM identity_failures f
       JOIN events e ON e.id = f.event_id AND e.received_at = f.received_at ORDER BY e.id`,
    );
    return r.rows.map((row) => JSON.parse(row.payload) as Record<string, unknown>);
  }

  async findByIdentifier(type: string, value: string): Promise<string | null> {
    // The owner now: the latest segment (a shared device belongs to its latest user).
    const r = await this.db.query<{ profile_id: string }>(
      `SELECT m.profile_id FROM identifiers i JOIN memberships m ON m.identifier_id = i.id
       WHERE i.type = $1 AND i.value = $2 ORDER BY m.from_ts DESC LIMIT 1`,
      [type, value],
    );
    return r.rows[0]?.profile_id ?? null;
  }

  async getProfile(requested: string): Promise<ProfileView | null> {
    const pid = await currentProfileId(this.db, requested);
    if (pid === null) return null;
    const members = await profileMembers(this.db, pid);
    const { where, params } = attributionFilter(members);
    const stats = (
      await this.db.query<{ n: number; first: number | null; last: number | null }>(
        `SELECT count(*) AS n, min(ts) AS first, max(ts) AS last FROM event_owners WHERE ${where}`,
        params,
      )
    ).rows[0] ?? { n: 0, first: null, last: null };
    return profileView(pid, requested, members, await traitWritesOf(this.db, members), stats);
  }

  async events(requested: string, limit: number, before?: string): Promise<ProfileEventsPage | null> {
    const pid = await currentProfileId(this.db, requested);
    if (pid === null) return null;
    const { where, params } = attributionFilter(await profileMembers(this.db, pid));
    // Cursor "ts:id": the timeline is ordered by event time, then receipt.
    let cursor = '';
    if (before) {
      const [ts, id] = before.split(':').map(Number);
      const n = params.length;
      cursor = `AND (ts < $${n + 1} OR (ts = $${n + 1} AND event_id < $${n + 2}))`;
      params.push(ts, id);
    }
    params.push(limit + 1);
    const rows = (
      await this.db.query<{ id: number; ts: number; payload: string }>(
        `SELECT e.id, e.ts, e.payload
         FROM (
           SELECT event_id, received_at, ts FROM event_owners WHERE (${where}) ${cursor}
           ORDER BY ts DESC, event_id DESC LIMIT $${params.length}
         ) o JOIN events e ON e.id = o.event_id AND e.received_at = o.received_at
         ORDER BY o.ts DESC, o.event_id DESC`,
        params,
      )
    ).rows;
    return timelinePage(pid, rows, limit);
  }

  async history(requested: string): Promise<ProfileHistory | null> {
    return (await readHistory(this.db, requested))?.history ?? null;
  }

  /** Profiles whose current trait `name` equals `value` (JSON-compared), by id, paginated. */
  async listByTrait(
    name: string,
    values: readonly unknown[],
    limit: number,
    cursor?: string,
  ): Promise<{ profiles: ProfileView[]; nextCursor: string | null }> {
    const jsons = values.map((v) => JSON.stringify(v));
    const r = await this.db.query<{ profile_id: string }>(
      `SELECT DISTINCT m.profile_id FROM memberships m
       WHERE m.identifier_id IN (
         SELECT identifier_id FROM trait_writes
         WHERE md5(key || ':' || value) IN (SELECT md5($1 || ':' || v) FROM unnest($2::text[]) AS v)
           AND key = $1 AND value = ANY($2::text[])
       )`,
      [name, jsons],
    );
    const sorted = r.rows
      .map((x) => x.profile_id)
      .sort()
      .filter((p) => cursor === undefined || p > cursor);
    const profiles: ProfileView[] = [];
    let last: string | null = null;
    for (const pid of sorted) {
      const view = await this.getProfile(pid);
      if (!view || !jsons.includes(JSON.stringify(view.traits[name]))) continue;
      if (profiles.length === limit) return { profiles, nextCursor: last };
      profiles.push(view);
      last = pid;
    }
    return { profiles, nextCursor: null };
  }
}
