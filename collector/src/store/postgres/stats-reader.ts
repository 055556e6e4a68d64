import type { Db } from './connection.js';
import { NO_ONE_PROFILES_SQL } from './profile-queries.js';

/** Structurally the port's StatsQuery / StoreStats (the dashboard overview's counts). */
export interface PgStatsQuery {
  sinceMs: number;
  untilMs: number;
  bucketMs: number;
  top: number;
}
export interface PgStoreStats {
  buckets: { startMs: number; events: number }[];
  topEvents: { type: string; name: string | null; events: number }[];
  totals: { events: number; profiles: number; merges: number };
}

/**
 * The dashboard overview's counts on PostgreSQL. The window is a received_at range: partition
 * pruning and the BRIN index keep it to the window's own rows.
 */
export async function readStats(db: Db, query: PgStatsQuery): Promise<PgStoreStats> {
  const { sinceMs, untilMs, bucketMs, top } = query;
  const count = Math.max(1, Math.ceil((untilMs - sinceMs) / bucketMs));
  const buckets = Array.from({ length: count }, (_, i) => ({ startMs: sinceMs + i * bucketMs, events: 0 }));
  const perBucket = await db.query<{ b: number; n: number }>(
    `SELECT (received_at - $1) / $2 AS b, count(*) AS n FROM events
     WHERE received_at >= $1 AND received_at < $3 GROUP BY b`,
    [sinceMs, bucketMs, untilMs],
  );
  let events = 0;
  for (const { b, n } of perBucket.rows) {
    const bucket = buckets[Math.floor(b)];
    if (bucket) bucket.events += n;
    events += n;
  }
  const topEvents = (
    await db.query<{ type: string; name: string | null; n: number }>(
      `SELECT type, name, count(*) AS n FROM events WHERE received_at >= $1 AND received_at < $2
       GROUP BY type, name ORDER BY n DESC, type, name LIMIT $3`,
      [sinceMs, untilMs, top],
    )
  ).rows.map((r) => ({ type: r.type, name: r.name, events: r.n }));
  // A merge is logged once per identifier it touched; count each merge once.
  const totals = (
    await db.query<{ merges: number; profiles: number }>(
      `SELECT (SELECT count(*) FROM (SELECT DISTINCT ts, message_id, detail FROM identity_log WHERE kind = 'merge') m) AS merges,
              (SELECT count(DISTINCT profile_id) FROM memberships) - (${NO_ONE_PROFILES_SQL}) AS profiles`,
    )
  ).rows[0] ?? { merges: 0, profiles: 0 };
  return { buckets, topEvents, totals: { events, profiles: totals.profiles, merges: totals.merges } };
}
