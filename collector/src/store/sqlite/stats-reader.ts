import type { StatsQuery, StoreStats } from '../store.js';
import type { SqliteDatabase } from './open.js';
import { NO_ONE_PROFILES_SQL } from './profile-queries.js';

/**
 * A bucket is final once this long past its end: events are counted by received_at, and a
 * request received just before a bucket's end commits a group commit later.
 */
const SETTLE_MS = 10_000;
/** Buckets older than the longest window the dashboard asks for (a day) are forgotten. */
const KEEP_BUCKETS_MS = 25 * 60 * 60_000;
/** (type, name) pairs kept per settled bucket, most frequent first: bounds memory with unbounded names. */
const NAMES_PER_BUCKET = 200;
/** Profile and merge counts scan their tables; dashboards refreshing together share one scan. */
const TOTALS_TTL_MS = 10_000;

interface Bucket {
  events: number;
  /** "type\u0000name" → events */
  names: Map<string, number>;
}

/**
 * The dashboard overview's counts, on the reader thread's connection, where a long scan delays
 * every admin read queued behind it. So: `events` has no index on received_at (ingest pays for every index),
 * but rowids follow commit order, so a window's first row is found by binary search over the
 * rowid; settled buckets are counted once and remembered, so a refresh scans only the last minute
 * or so, whatever the window.
 */
export class StatsReader {
  private readonly settled = new Map<string, Bucket>();
  private totals: { at: number; profiles: number; merges: number } | null = null;

  constructor(private readonly db: SqliteDatabase) {}

  /** After an erasure deleted events: remembered buckets would keep counting them, and their names. */
  forget(): void {
    this.settled.clear();
    this.totals = null;
  }

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

  /** Counts buckets [fromIndex, count) of the window from the table. */
  private scan(sinceMs: number, bucketMs: number, fromIndex: number, untilMs: number, into: Bucket[]): void {
    const fromMs = sinceMs + fromIndex * bucketMs;
    const rows = this.db
      .prepare(
        `SELECT (received_at - ?) / ? AS b, type, name, count(*) AS n FROM events
         WHERE id >= ? AND received_at >= ? AND received_at < ? GROUP BY b, type, name`,
      )
      .raw()
      .all(sinceMs, bucketMs, this.firstIdSince(fromMs), fromMs, untilMs) as [number, string, string | null, number][];
    for (const [b, type, name, n] of rows) {
      const bucket = into[Math.floor(b)];
      if (!bucket) continue;
      bucket.events += n;
      const key = `${type}\u0000${name ?? ''}`;
      bucket.names.set(key, (bucket.names.get(key) ?? 0) + n);
    }
  }

  stats(query: StatsQuery, nowMs = Date.now()): StoreStats {
    const { sinceMs, untilMs, bucketMs, top } = query;
    const count = Math.max(1, Math.ceil((untilMs - sinceMs) / bucketMs));
    const key = (i: number) => `${bucketMs}:${sinceMs + i * bucketMs}`;
    const buckets: Bucket[] = [];
    let firstUnsettled = count;
    for (let i = 0; i < count; i++) {
      const cached = this.settled.get(key(i));
      if (!cached && firstUnsettled === count) firstUnsettled = i;
      buckets.push(cached ?? { events: 0, names: new Map() });
    }
    if (firstUnsettled < count) {
      // Cached buckets after the first gap are counted again rather than tracked piecewise.
      for (let i = firstUnsettled; i < count; i++) buckets[i] = { events: 0, names: new Map() };
      this.scan(sinceMs, bucketMs, firstUnsettled, untilMs, buckets);
      for (let i = firstUnsettled; i < count; i++) {
        if (sinceMs + (i + 1) * bucketMs + SETTLE_MS > nowMs) break;
        const b = buckets[i] as Bucket;
        if (b.names.size > NAMES_PER_BUCKET) {
          b.names = new Map([...b.names].sort((x, y) => y[1] - x[1]).slice(0, NAMES_PER_BUCKET));
        }
        this.settled.set(key(i), b);
      }
      for (const k of this.settled.keys()) {
        if (Number(k.slice(k.indexOf(':') + 1)) < nowMs - KEEP_BUCKETS_MS) this.settled.delete(k);
      }
    }

    let events = 0;
    const names = new Map<string, number>();
    for (const b of buckets) {
      events += b.events;
      for (const [k, n] of b.names) names.set(k, (names.get(k) ?? 0) + n);
    }
    const topEvents = [...names]
      .sort((x, y) => y[1] - x[1] || (x[0] < y[0] ? -1 : 1))
      .slice(0, top)
      .map(([k, n]) => {
        const [type, name] = k.split('\u0000') as [string, string];
        return { type, name: name === '' ? null : name, events: n };
      });
    const totals = this.profileTotals(nowMs);
    return {
      buckets: buckets.map((b, i) => ({ startMs: sinceMs + i * bucketMs, events: b.events })),
      topEvents,
      totals: { events, profiles: totals.profiles, merges: totals.merges },
    };
  }

  private profileTotals(nowMs: number): { profiles: number; merges: number } {
    if (this.totals && nowMs - this.totals.at < TOTALS_TTL_MS) return this.totals;
    // The log holds a merge once per identifier it touched; count each merge once.
    const merges = this.db
      .prepare(`SELECT count(*) FROM (SELECT DISTINCT ts, message_id, detail FROM identity_log WHERE kind = 'merge')`)
      .pluck()
      .get() as number;
    const profiles =
      (this.db.prepare('SELECT count(DISTINCT founder_id) FROM memberships').pluck().get() as number) -
      (this.db.prepare(NO_ONE_PROFILES_SQL).pluck().get() as number);
    this.totals = { at: nowMs, profiles, merges };
    return this.totals;
  }
}
