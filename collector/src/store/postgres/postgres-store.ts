import type pg from 'pg';
import type { IdentityConfig } from '../../identity/identifiers.js';
import { newProfileSalt, PROFILE_SALT_SETTING } from '../../identity/profile-id.js';
import type { ResolverCaps } from '../../identity/resolve.js';
import type {
  EventPage,
  EventRow,
  InsertOutcome,
  ProfileEventsPage,
  ProfileHistory,
  ProfileView,
  Source,
  Store,
  UnmergeOutcome,
} from '../store.js';
import { type SourceRow, StoreUnavailableError, sourceFromRow } from '../store.js';
import {
  checkout,
  createPool,
  inTransaction,
  lockXact,
  migrate,
  type PostgresTarget,
  parsePostgresUrl,
  SOURCES_LOCK,
} from './connection.js';
import { ensurePartition, monthPartition, writeEvents } from './event-writer.js';
import { eraseProfile, unmergeIdentifier } from './identity-admin.js';
import { PgIdentityApplier } from './identity-applier.js';
import { PgIdentityWriter } from './identity-writer.js';
import { PgProfileReader } from './profile-reader.js';
import { type PgStatsQuery, type PgStoreStats, readStats } from './stats-reader.js';

export interface PostgresStoreOptions {
  /** `postgres://user:pass@host:port/db`, optionally `?schema=name` (default `public`). */
  url: string;
  /** Connections this collector process opens at most. */
  poolMax: number;
  identity: { enabled: boolean; caps: ResolverCaps; maxClusterIdentifiers: number; config: IdentityConfig };
  /** Called after each group commit (for metrics). */
  onCommit?: (info: { events: number; requests: number; ms: number }) => void;
  /** Called when an identity batch fails (its events stay pending and are tried again). */
  onIdentityError?: (message: string) => void;
}

interface Pending {
  rows: EventRow[];
  resolve: (o: InsertOutcome[]) => void;
  reject: (e: Error) => void;
}

/**
 * Commits in flight per process. Two keep the connection busy (one commits while the next one's
 * statements run) without making this process's own commits contend for the same clusters.
 */
const COMMITS_IN_FLIGHT = 4;
/** Events per commit at most: bounds a transaction's lock set and its statement sizes. */
const MAX_COMMIT_EVENTS = 5000;
/** SQLSTATE of "no partition of relation found for row" (check_violation). */
const NO_PARTITION = '23514';

/**
 * The Store on PostgreSQL: any number of stateless collector processes on one database. Requests
 * arriving in the same tick share one transaction (group commit); dedup is exact across processes
 * (event-writer.ts). Identity is applied after the commit, in batches (identity-applier.ts), and
 * exact across processes too (identity-writer.ts); profile reads and admin actions wait for it.
 */
export class PostgresStore implements Store {
  readonly kind = 'postgres' as const;
  private readonly queue: Pending[] = [];
  private inFlight = 0;
  private scheduled = false;
  private pending = 0;
  private closing = false;
  /** The last commit failed: readiness checks that the database takes writes (see `ping`). */
  private commitFailed = false;
  private closed: Promise<void> | null = null;
  private idle: (() => void) | null = null;
  /** Month partitions known to exist, by name. */
  private readonly partitions = new Map<string, { from: number; to: number }>();
  private readonly identity: PgIdentityWriter | null;
  private readonly applier: PgIdentityApplier | null;
  private readonly profiles: PgProfileReader;

  private constructor(
    private readonly pool: pg.Pool,
    private readonly target: PostgresTarget,
    private readonly salt: string,
    private readonly options: PostgresStoreOptions,
  ) {
    this.profiles = new PgProfileReader(pool);
    this.identity = options.identity.enabled
      ? new PgIdentityWriter({
          salt,
          schema: target.schema,
          caps: options.identity.caps,
          maxClusterIdentifiers: options.identity.maxClusterIdentifiers,
        })
      : null;
    this.applier = this.identity
      ? new PgIdentityApplier(pool, this.identity, options.identity.config, (err) =>
          options.onIdentityError?.(err.message),
        )
      : null;
  }

  /** Connects, applies migrations (once, whichever collector starts first) and reads the profile salt. */
  static async open(options: PostgresStoreOptions): Promise<PostgresStore> {
    const target = parsePostgresUrl(options.url);
    const pool = createPool(target, options.poolMax);
    try {
      await migrate(pool, target.schema);
      await pool.query('INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT DO NOTHING', [
        PROFILE_SALT_SETTING,
        newProfileSalt(),
      ]);
      const salt = (
        await pool.query<{ value: string }>('SELECT value FROM settings WHERE key = $1', [PROFILE_SALT_SETTING])
      ).rows[0]?.value as string;
      const store = new PostgresStore(pool, target, salt, options);
      // This month and the next exist before the first event; later months are created on demand.
      const now = Date.now();
      await store.partitionFor(now);
      await store.partitionFor(monthPartition(now).to);
      return store;
    } catch (err) {
      await pool.end();
      throw err;
    }
  }

  get pendingEvents(): number {
    return this.pending;
  }

  insertEvents(rows: EventRow[]): Promise<InsertOutcome[]> {
    if (this.closing) return Promise.reject(new StoreUnavailableError('the store is closing'));
    this.pending += rows.length;
    return new Promise((resolve, reject) => {
      this.queue.push({ rows, resolve, reject });
      this.schedule();
    });
  }

  // Requests arriving while commits run wait in the queue; the next commit carries all of them.
  private schedule(): void {
    if (this.scheduled || this.inFlight >= COMMITS_IN_FLIGHT || this.queue.length === 0) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      void this.commitNext();
      this.schedule();
    });
  }

  private async commitNext(): Promise<void> {
    if (this.queue.length === 0 || this.inFlight >= COMMITS_IN_FLIGHT) return;
    const batch: Pending[] = [];
    let events = 0;
    while (
      this.queue.length > 0 &&
      (batch.length === 0 || events + (this.queue[0] as Pending).rows.length <= MAX_COMMIT_EVENTS)
    ) {
      const p = this.queue.shift() as Pending;
      batch.push(p);
      events += p.rows.length;
    }
    this.inFlight++;
    const started = performance.now();
    try {
      // A range check per event; naming a month (a Date and strings) only for a month not yet seen.
      const months = new Map<string, number>();
      for (const p of batch) {
        for (const r of p.rows) {
          if (!this.hasPartition(r.receivedAtMs)) months.set(monthPartition(r.receivedAtMs).name, r.receivedAtMs);
        }
      }
      for (const ms of months.values()) await this.partitionFor(ms);
      // Identity cannot keep up (or keeps failing): commits wait, then fail (503, clients retry),
      // rather than this process queueing without bound.
      await this.applier?.relieve();
      const { outcomes, stored, pending } = await inTransaction(this.pool, (c, tail) =>
        writeEvents(
          c,
          this.identity,
          batch.map((p) => p.rows),
          tail,
        ),
      );
      // Before the 200s: a read that follows one finds the events in this process's list.
      if (pending) {
        const { id, eventIds } = await pending;
        this.applier?.enqueue(id, stored, eventIds);
      }
      this.commitFailed = false;
      this.options.onCommit?.({ events, requests: batch.length, ms: performance.now() - started });
      batch.forEach((p, i) => {
        p.resolve(outcomes[i] as InsertOutcome[]);
      });
    } catch (err) {
      // A month this process believed in is gone (another collector's retention dropped it): the
      // next commit checks again and re-creates it, instead of failing until a restart.
      if ((err as { code?: string }).code === NO_PARTITION) this.partitions.clear();
      this.commitFailed = true;
      // Rolled back (or never began): nothing of these requests is stored, so the clients retry.
      const e = new StoreUnavailableError(`commit failed: ${(err as Error).message}`, { cause: err });
      for (const p of batch) p.reject(e);
    } finally {
      this.pending -= events;
      this.inFlight--;
      if (this.inFlight === 0 && this.queue.length === 0) this.idle?.();
      this.schedule();
    }
  }

  private hasPartition(ms: number): boolean {
    for (const p of this.partitions.values()) if (ms >= p.from && ms < p.to) return true;
    return false;
  }

  private async partitionFor(ms: number): Promise<void> {
    const month = monthPartition(ms);
    if (this.partitions.has(month.name)) return;
    await ensurePartition(this.pool, this.target.schema, ms);
    this.partitions.set(month.name, month);
  }

  /**
   * Retention: detaches and drops every month partition that ends at or before `cutoffMs` (receipt
   * time). Dropping a partition is instant whatever its size; only its events' dedup keys are
   * deleted row by row (dead rows autovacuum reclaims).
   */
  async dropEventPartitionsBefore(cutoffMs: number): Promise<string[]> {
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
      this.partitions.delete(name);
      dropped.push(name);
    }
    return dropped;
  }

  /** Runs a read, turning a connection failure into StoreUnavailableError (503). */
  private async read<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if ((err as { code?: string }).code?.startsWith('22')) throw err;
      throw new StoreUnavailableError(`database read failed: ${(err as Error).message}`, { cause: err });
    }
  }

  async listEvents(query: { limit: number; before?: string | undefined }): Promise<EventPage> {
    const before = query.before === undefined ? Number.MAX_SAFE_INTEGER : Number(query.before);
    const rows = (
      await this.read(() =>
        this.pool.query<{ id: number; source_id: number; payload: string }>(
          'SELECT id, source_id, payload FROM events WHERE id < $1 ORDER BY id DESC LIMIT $2',
          [before, query.limit + 1],
        ),
      )
    ).rows;
    const page = rows.slice(0, query.limit);
    return {
      events: page.map((r) => ({ id: String(r.id), sourceId: r.source_id, event: JSON.parse(r.payload) })),
      nextCursor: rows.length > query.limit && page.length > 0 ? String(page[page.length - 1]?.id) : null,
    };
  }

  async listSources(): Promise<Source[]> {
    const r = await this.read(() =>
      this.pool.query<SourceRow>('SELECT id, name, write_key, allowed_origins FROM sources ORDER BY id'),
    );
    return r.rows.map(sourceFromRow);
  }

  async upsertSource(source: Omit<Source, 'id'> & { id?: number }): Promise<Source> {
    const origins = JSON.stringify(source.allowedOrigins);
    if (source.id !== undefined) {
      const id = source.id;
      await inTransaction(this.pool, async (c) => {
        // Collectors starting together upsert the same default source. ON CONFLICT (id) covers
        // only the id: when the write_key index is checked first, the second insert failed with a
        // unique violation (a benchmark start failed so; the test needs ~300 rounds) instead of
        // updating. One at a time.
        await lockXact(c, this.target.schema, SOURCES_LOCK);
        await c.query(
          `INSERT INTO sources (id, name, write_key, allowed_origins, created_at) VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (id) DO UPDATE SET name = excluded.name, write_key = excluded.write_key,
             allowed_origins = excluded.allowed_origins`,
          [id, source.name, source.writeKey, origins, Date.now()],
        );
        // An explicit id does not advance the identity sequence; later sources must not reuse it.
        await c.query("SELECT setval(pg_get_serial_sequence('sources', 'id'), (SELECT max(id) FROM sources))");
      });
      return { ...source, id };
    }
    const r = await this.pool.query<{ id: number }>(
      'INSERT INTO sources (name, write_key, allowed_origins, created_at) VALUES ($1, $2, $3, $4) RETURNING id',
      [source.name, source.writeKey, origins, Date.now()],
    );
    return { ...source, id: r.rows[0]?.id as number };
  }

  async findProfile(type: string, value: string): Promise<string | null> {
    return this.read(async () => {
      await this.applier?.sync();
      return this.profiles.findByIdentifier(type, value);
    });
  }

  async getProfile(id: string): Promise<ProfileView | null> {
    return this.read(async () => {
      await this.applier?.sync();
      return this.profiles.getProfile(id);
    });
  }

  async profileEvents(
    id: string,
    query: { limit: number; before?: string | undefined },
  ): Promise<ProfileEventsPage | null> {
    return this.read(async () => {
      await this.applier?.sync();
      return this.profiles.events(id, query.limit, query.before);
    });
  }

  async profileHistory(id: string): Promise<ProfileHistory | null> {
    return this.read(async () => {
      await this.applier?.sync();
      return this.profiles.history(id);
    });
  }

  async listProfilesByTrait(
    name: string,
    values: readonly unknown[],
    query: { limit: number; cursor?: string | undefined },
  ) {
    return this.read(async () => {
      await this.applier?.sync();
      return this.profiles.listByTrait(name, values, query.limit, query.cursor);
    });
  }

  private admin<T>(fn: (c: pg.PoolClient, identity: PgIdentityWriter) => Promise<T>): Promise<T> {
    const identity = this.identity;
    if (!identity) return Promise.reject(new Error('identity resolution is disabled'));
    return this.read(async () => {
      // Admin actions act on every event acknowledged before them (see PgIdentityApplier.sync).
      await this.applier?.sync();
      return inTransaction(this.pool, (c) => fn(c, identity));
    });
  }

  async eraseProfile(id: string): Promise<{ profileId: string; events: number; identifiers: number } | null> {
    return this.admin((c, identity) => eraseProfile(c, identity, this.salt, id));
  }

  async unmergeIdentifier(id: string, type: string, value: string): Promise<UnmergeOutcome> {
    return this.admin((c, identity) => unmergeIdentifier(c, identity, id, type, value));
  }

  async wasErased(id: string): Promise<boolean> {
    const r = await this.read(() => this.pool.query('SELECT 1 FROM erased_profiles WHERE id = $1', [id]));
    return (r.rowCount ?? 0) > 0;
  }

  async stats(query: PgStatsQuery): Promise<PgStoreStats> {
    return this.read(() => readStats(this.pool, query));
  }

  async getSetting(key: string): Promise<string | null> {
    const r = await this.read(() =>
      this.pool.query<{ value: string }>('SELECT value FROM settings WHERE key = $1', [key]),
    );
    return r.rows[0]?.value ?? null;
  }

  async setSetting(key: string, value: string): Promise<void> {
    await this.pool.query(
      'INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
      [key, value],
    );
  }

  async claimSetting(key: string, value: string): Promise<string> {
    await this.pool.query('INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT DO NOTHING', [key, value]);
    // A new statement: it sees the winner even when our insert waited for another collector's.
    return (await this.getSetting(key)) as string;
  }

  /**
   * Whether the database answers, and, after a failed commit, whether it takes writes: a
   * read-only server (a failover to a standby) answers reads while every commit fails, and
   * readiness must not claim otherwise. The write check writes nothing (an UPDATE of no row in a
   * rolled-back transaction) and runs only until a commit or the check succeeds.
   */
  async ping(): Promise<void> {
    if (!this.commitFailed) {
      await this.read(() => this.pool.query('SELECT 1'));
      return;
    }
    await this.read(async () => {
      const c = await checkout(this.pool);
      try {
        await c.query('BEGIN');
        await c.query('UPDATE settings SET value = value WHERE false');
      } finally {
        await c.query('ROLLBACK').catch(() => undefined);
        c.release();
      }
    });
    this.commitFailed = false;
  }

  /**
   * Test hook: drops this store's connections without applying the identity of what it stored,
   * as a kill -9 between a commit and its identity batch would.
   */
  async crashForTest(): Promise<void> {
    this.closing = true;
    this.applier?.abandon();
    this.closed ??= this.pool.end();
    await this.closed;
  }

  close(): Promise<void> {
    this.closing = true;
    this.closed ??= (async () => {
      // Requests already handed over are committed (or failed) before the pool closes.
      if (this.inFlight > 0 || this.queue.length > 0) {
        await new Promise<void>((resolve) => {
          this.idle = resolve;
          this.schedule();
        });
      }
      await this.applier?.close();
      await this.pool.end();
    })();
    return this.closed;
  }
}
