import type pg from 'pg';
import type { IdentityConfig } from '../../identity/identifiers.js';
import { newProfileSalt, PROFILE_SALT_SETTING } from '../../identity/profile-id.js';
import type { ResolverCaps } from '../../identity/resolve.js';
import type {
  EventPage,
  EventRow,
  IdentityFailure,
  InsertOutcome,
  ProfileEventsPage,
  ProfileHistory,
  ProfileView,
  Source,
  Store,
  UnmergeOutcome,
} from '../store.js';
import { type SourceRow, StoreUnavailableError, sourceFromRow } from '../store.js';
import { checkout, createPool, inTransaction, migrate, type PostgresTarget, parsePostgresUrl } from './connection.js';
import { GroupCommit } from './group-commit.js';
import { eraseProfile, unmergeIdentifier } from './identity-admin.js';
import { PgIdentityApplier } from './identity-applier.js';
import { PgIdentityWriter } from './identity-writer.js';
import { MonthPartitions, monthPartition } from './month-partitions.js';
import { PgProfileReader } from './profile-reader.js';
import { upsertSource } from './source-upsert.js';
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
  /** Called when an event's identity fails alone and is set aside (the event stays stored). */
  onIdentityFailure?: (failure: IdentityFailure) => void;
  /** Called while the database cannot be reached at start, before each wait for it. */
  onWaiting?: (message: string) => void;
  /** Called with the schema migrations this start applied ("12 erased people's periods…"), if any. */
  onMigrated?: (applied: string[]) => void;
  /** How long `open` waits for an unreachable database. @defaultValue 60000 */
  connectWaitMs?: number;
}

/**
 * Errors of a database that is not there yet (refused, unresolvable, starting up, timing out):
 * at start they are waited out, as a collector started with its database (compose, a pod) or
 * while it restarts would otherwise exit at once.
 */
const NOT_YET = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', '57P03']);
const notReachableYet = (err: unknown) =>
  NOT_YET.has(String((err as { code?: unknown }).code)) ||
  /Connection terminated|timeout exceeded when trying to connect/.test(String((err as Error)?.message));

/**
 * Queues the events set aside by earlier runs (identity_failures) for identity again, as one
 * pending row old enough for any collector's sweep: the bug that failed them may be fixed in this
 * version. One that fails again is set aside again. One statement: collectors starting together
 * move each event once.
 */
async function retrySetAside(pool: pg.Pool): Promise<void> {
  await pool.query(
    `WITH gone AS (DELETE FROM identity_failures RETURNING event_id)
     INSERT INTO identity_pending (received_at, event_ids)
     SELECT 0, array_agg(event_id ORDER BY event_id) FROM gone HAVING count(*) > 0`,
  );
}

/**
 * The Store on PostgreSQL: any number of stateless collector processes on one database. Requests
 * arriving in the same tick share one transaction (group commit, group-commit.ts); dedup is exact across processes
 * (event-writer.ts). Identity is applied after the commit, in batches (identity-applier.ts), and
 * exact across processes too (identity-writer.ts); profile reads and admin actions wait for it.
 */
/**
 * A readiness query with pg's client-side deadline: on a connection whose database went silent (a
 * partition, no reset) it would wait for as long as the partition lasts, and `/readyz` with it.
 */
const PING_TIMEOUT_MS = 2000;
const pingQuery = (text: string) => ({ text, query_timeout: PING_TIMEOUT_MS }) as pg.QueryConfig;
/** The statements of an ingest commit (event-writer.ts), inserting nothing. */
const WRITE_CHECK = `INSERT INTO event_ids (source_id, message_id) SELECT 0, '' WHERE false;
  INSERT INTO events (id, source_id, message_id, type, name, ts, received_at, payload)
    SELECT 0, 0, '', '', NULL, 0, 0, '' WHERE false;
  INSERT INTO identity_pending (received_at, event_ids) SELECT 0, '{}'::bigint[] WHERE false`;

export class PostgresStore implements Store {
  readonly kind = 'postgres' as const;
  private closing = false;
  private closed: Promise<void> | null = null;
  private readonly partitions: MonthPartitions;
  private readonly commits: GroupCommit;
  private readonly identity: PgIdentityWriter | null;
  private readonly applier: PgIdentityApplier | null;
  private readonly profiles: PgProfileReader;
  private readonly identityConfig: IdentityConfig;

  private constructor(
    private readonly pool: pg.Pool,
    private readonly target: PostgresTarget,
    private readonly salt: string,
    options: PostgresStoreOptions,
  ) {
    this.profiles = new PgProfileReader(pool);
    this.identityConfig = options.identity.config;
    this.identity = options.identity.enabled
      ? new PgIdentityWriter({
          salt,
          schema: target.schema,
          caps: options.identity.caps,
          maxClusterIdentifiers: options.identity.maxClusterIdentifiers,
        })
      : null;
    this.applier = this.identity
      ? new PgIdentityApplier(
          pool,
          this.identity,
          options.identity.config,
          (err) => options.onIdentityError?.(err.message),
          options.onIdentityFailure,
        )
      : null;
    this.partitions = new MonthPartitions(pool, target.schema);
    this.commits = new GroupCommit(pool, this.partitions, this.identity, this.applier, options.onCommit);
  }

  /**
   * Connects, applies migrations (once, whichever collector starts first) and reads the profile
   * salt; waits up to `connectWaitMs` for a database that cannot be reached yet.
   */
  static async open(options: PostgresStoreOptions): Promise<PostgresStore> {
    const deadline = Date.now() + (options.connectWaitMs ?? 60_000);
    for (;;) {
      try {
        return await PostgresStore.openOnce(options);
      } catch (err) {
        if (!notReachableYet(err) || Date.now() >= deadline) throw err;
        options.onWaiting?.(`PostgreSQL cannot be reached yet (${(err as Error).message}); trying again in 1 s`);
        await new Promise((resolve) => setTimeout(resolve, 1000));
      }
    }
  }

  private static async openOnce(options: PostgresStoreOptions): Promise<PostgresStore> {
    const target = parsePostgresUrl(options.url);
    const pool = createPool(target, options.poolMax);
    try {
      const applied = await migrate(pool, target.schema);
      if (applied.length > 0) options.onMigrated?.(applied);
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
      await store.partitions.ensure(now);
      await store.partitions.ensure(monthPartition(now).to);
      if (options.identity.enabled) await retrySetAside(pool);
      return store;
    } catch (err) {
      await pool.end();
      throw err;
    }
  }

  get pendingEvents(): number {
    return this.commits.pendingEvents;
  }

  insertEvents(rows: readonly EventRow[]): Promise<InsertOutcome[]> {
    if (this.closing) return Promise.reject(new StoreUnavailableError('the store is closing'));
    return this.commits.submit(rows);
  }

  /** Retention (month-partitions.ts): drops every month partition that ends at or before `cutoffMs`. */
  dropEventPartitionsBefore(cutoffMs: number): Promise<string[]> {
    return this.partitions.dropBefore(cutoffMs);
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

  upsertSource(source: Omit<Source, 'id'> & { id?: number }): Promise<Source> {
    return upsertSource(this.pool, this.target.schema, source);
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

  async setAsideEvents(): Promise<Record<string, unknown>[]> {
    return this.read(async () => {
      await this.applier?.sync();
      return this.profiles.setAside();
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
    return this.admin((c, identity) => eraseProfile(c, identity, this.salt, this.identityConfig, id));
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
   * readiness must not claim otherwise. The write check inserts no row, in a rolled-back
   * transaction, into each table an ingest commit writes: PostgreSQL checks read-only mode,
   * privileges (a REVOKE) and the columns before it finds there is no row. It runs only until a
   * commit or the check succeeds.
   */
  async ping(): Promise<void> {
    if (!this.commits.lastFailed) {
      await this.read(() => this.pool.query(pingQuery('SELECT 1')));
      return;
    }
    await this.read(async () => {
      const c = await checkout(this.pool);
      try {
        await c.query(pingQuery('BEGIN'));
        // A table locked by another session answers here, before pg's deadline drops the connection.
        await c.query(pingQuery(`SET LOCAL lock_timeout = ${PING_TIMEOUT_MS / 2}`));
        await c.query(pingQuery(WRITE_CHECK));
        await c.query('ROLLBACK');
        c.release();
      } catch (err) {
        // A connection that did not answer is destroyed, not put back in the pool.
        c.release(err as Error);
        throw err;
      }
    });
    this.commits.lastFailed = false;
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
      await this.commits.drain();
      await this.applier?.close();
      await this.pool.end();
    })();
    return this.closed;
  }
}
