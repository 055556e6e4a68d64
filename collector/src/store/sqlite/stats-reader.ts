import type { StatsQuery, StoreStats } from '../store.js';
import type { SqliteDatabase } from './open.js';

/**
 * The dashboard overview's counts, on the HTTP thread's read connection. `events` has no index on
 * received_at (ingest pays for every index), but rowids are assigned in commit order, so the
 * window's first row is found by binary search over the rowid and only the window is scanned.
 */
export class StatsReader {
  constructor(private readonly db: SqliteDatabase) {}

  /** The smallest rowid whose received_at is at or after `sinceMs` (receipt order ≈ commit order). */
  private firstIdSince(sinceMs: number): number {
    const bounds = this.db.prepare('SELECT min(id) AS lo, max(id) AS hi FROM events').get() as {
      lo: number | null;
      hi: number | null;
    };
    if (bounds.lo === null || bounds.hi === null) return Number.MAX_SAFE_INTEGER;
    const at = this.db.prepare('SELECT received_at FROM events WHERE id >= ? ORDER BY id LIMIT 1').pluck();
    let lo = bounds.lo;
    let hi = bounds.hi + 1;
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2);
      const receivedAt = at.get(mid) as number | undefined;
      if (receivedAt === undefined || receivedAt >= sinceMs) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  stats(query: StatsQuery): StoreStats {
    const { sinceMs, untilMs, bucketMs, top } = query;
    const count = Math.max(1, Math.ceil((untilMs - sinceMs) / bucketMs));
    const buckets = Array.from({ length: count }, (_, i) => ({ startMs: sinceMs + i * bucketMs, events: 0 }));
    const firstId = this.firstIdSince(sinceMs);
    const perBucket = this.db
      .prepare(
        `SELECT (received_at - ?) / ? AS b, count(*) AS n FROM events
         WHERE id >= ? AND received_at >= ? AND received_at < ? GROUP BY b`,
      )
      .raw()
      .all(sinceMs, bucketMs, firstId, sinceMs, untilMs) as [number, number][];
    let events = 0;
    for (const [b, n] of perBucket) {
      const bucket = buckets[Math.floor(b)];
      if (bucket) bucket.events += n;
      events += n;
    }
    const topEvents = (
      this.db
        .prepare(
          `SELECT type, name, count(*) AS n FROM events
           WHERE id >= ? AND received_at >= ? AND received_at < ?
           GROUP BY type, name ORDER BY n DESC, type, name LIMIT ?`,
        )
        .raw()
        .all(firstId, sinceMs, untilMs, top) as [string, string | null, number][]
    ).map(([type, name, n]) => ({ type, name, events: n }));
    // The log holds a merge once per identifier it touched; count each merge once.
    const merges = this.db
      .prepare(`SELECT count(*) FROM (SELECT DISTINCT ts, message_id, detail FROM identity_log WHERE kind = 'merge')`)
      .pluck()
      .get() as number;
    const profiles = this.db.prepare('SELECT count(DISTINCT founder_id) FROM memberships').pluck().get() as number;
    return { buckets, topEvents, totals: { events, profiles, merges } };
  }
}
