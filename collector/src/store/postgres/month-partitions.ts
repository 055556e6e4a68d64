import type pg from 'pg';
import { checkout, lockXact, PARTITION_LOCK } from './connection.js';

/** The month partition holding `ms` (UTC): its name and bounds. */
export function monthPartition(ms: number): { name: string; from: number; to: number } {
  const d = new Date(ms);
  const y = d.getUTCFullYear();
  const m = d.getUTCMonth();
  return {
    name: `events_${y}_${String(m + 1).padStart(2, '0')}`,
    from: Date.UTC(y, m, 1),
    to: Date.UTC(y, m + 1, 1),
  };
}

/**
 * Creates the month partition for `ms` if missing. Under an advisory lock: two collectors creating
 * the same partition at once would otherwise collide in the catalog.
 */
export async function ensurePartition(pool: pg.Pool, schema: string, ms: number): Promise<string> {
  const p = monthPartition(ms);
  const c = await checkout(pool);
  try {
    await c.query('BEGIN');
    await lockXact(c, schema, PARTITION_LOCK);
    await c.query(`CREATE TABLE IF NOT EXISTS ${p.name} PARTITION OF events FOR VALUES FROM (${p.from}) TO (${p.to})`);
    await c.query('COMMIT');
    return p.name;
  } catch (err) {
    // The original error is what the caller needs; a failed rollback only means the connection is gone.
    await c.query('ROLLBACK').catch((e: Error) => {
      c.failure ??= e;
    });
    throw err;
  } finally {
    c.release();
  }
}

/** The month partitions of `events` this process knows to exist: created on demand, dropped by retention. */
export class MonthPartitions {
  /** Month partitions known to exist, by name. */
  private readonly known = new Map<string, { from: number; to: number }>();

  constructor(
    private readonly pool: pg.Pool,
    private readonly schema: string,
  ) {}

  has(ms: number): boolean {
    for (const p of this.known.values()) if (ms >= p.from && ms < p.to) return true;
    return false;
  }

  async ensure(ms: number): Promise<void> {
    const month = monthPartition(ms);
    if (this.known.has(month.name)) return;
    await ensurePartition(this.pool, this.schema, ms);
    this.known.set(month.name, month);
  }

  /** Forgets every partition: the next `ensure` of each month checks the database again. */
  forget(): void {
    this.known.clear();
  }

  /**
   * Retention: detaches and drops every month partition that ends at or before `cutoffMs` (receipt
   * time). Dropping a partition is instant whatever its size; only its events' dedup keys are
   * deleted row by row (dead rows autovacuum reclaims).
   */
  async dropBefore(cutoffMs: number): Promise<string[]> {
    const r = await this.pool.query<{ name: string }>(
      `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
       WHERE i.inhparent = 'events'::regclass ORDER BY 1`,
    );
    const dropped: string[] = [];
    for (const { name } of r.rows) {
      const m = /^events_(\d{4})_(\d{2})$/.exec(name);
      if (!m) continue;
      const end = Date.UTC(Number(m[1]), Number(m[2]), 1);
      if (end > cutoffMs) continue;
      // Dedup keys live as long as their events, or event_ids would grow forever: a re-send that
      // arrives after its month was dropped is stored again, as it would be in a fresh database.
      // First, so a failure leaves the partition attached and the next run repeats the delete.
      // (Keys of erased events stay: they hold a source id and a client's message id, nothing else.)
      await this.pool.query(
        `DELETE FROM event_ids e USING ${name} p WHERE e.source_id = p.source_id AND e.message_id = p.message_id COLLATE "C"`,
      );
      // Their attribution too, by receipt time (BRIN): the partition's bounds are its rows' bounds.
      await this.pool.query('DELETE FROM event_owners WHERE received_at < $1', [end]);
      // CONCURRENTLY: inserts into the other partitions never wait for the detach.
      await this.pool.query(`ALTER TABLE events DETACH PARTITION ${name} CONCURRENTLY`);
      await this.pool.query(`DROP TABLE ${name}`);
      this.known.delete(name);
      dropped.push(name);
    }
    return dropped;
  }
}
