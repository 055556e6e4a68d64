import type pg from 'pg';
import { eventIdentity } from '../../identity/event-identity.js';
import type { IdentityConfig } from '../../identity/identifiers.js';
import { RetryBackoff } from '../retry-backoff.js';
import type { IdentityFailure } from '../store.js';
import { int4Array, int8Array, parseIds, textArray } from './binary-arrays.js';
import { type Db, inTransaction } from './connection.js';
import type { IdentityInput } from './event-identifiers.js';
import type { CommitRow } from './event-writer.js';
import type { PgIdentityWriter } from './identity-writer.js';
import { failsEveryTime } from './pg-errors.js';

/** A stored event whose identity is not applied yet. */
interface PendingIdentity extends IdentityInput {
  eventId: number;
  receivedAt: number;
  sourceId: number;
}

/** An identity batch starts at this many unapplied events… */
const BATCH_EVENTS = 20_000;
/** …or once this process has stored nothing for this long… */
const IDLE_MS = 10;
/** …or once the oldest unapplied event waited this long, whichever comes first. */
const MAX_LAG_MS = 1_000;
/** Past this many unapplied events, commits wait for identity (memory stays bounded if it keeps failing). */
const MAX_PENDING_EVENTS = 10 * BATCH_EVENTS;
/** Pending rows (one per ingest commit, up to 5 000 events) applied per transaction by the sweep and by `sync`. */
const COMMITS_PER_CLAIM = 4;
/** Pending rows older than this are taken to be a dead collector's, and any collector applies them. */
const ORPHAN_AGE_MS = 5_000;
/** How often each collector looks for such rows. */
const SWEEP_INTERVAL_MS = 2_000;

/** One ingest commit's events, in this process's list. */
interface PendingCommit {
  /** Its identity_pending row. */
  id: number;
  /** Commits this process queued before it, plus one. */
  seq: number;
  items: PendingIdentity[];
}

/**
 * Takes the pending rows `ids` that still exist, deleting them: a row is applied by exactly one
 * transaction. Locks are taken in id order (FOR UPDATE under ORDER BY), so two claims of
 * overlapping rows queue instead of deadlocking; a row another batch holds is waited for, and is
 * either gone after its commit (applied there) or ours after its rollback. Answers the claimed
 * rows, with their event ids when `events` is set.
 */
async function claim(c: Db, ids: readonly number[], events: boolean): Promise<{ id: number; events: number[] }[]> {
  const r = await c.query<{ id: number; event_ids: string | null }>(
    `DELETE FROM identity_pending WHERE id IN (
       SELECT id FROM identity_pending WHERE id = ANY($1::bigint[]) ORDER BY id FOR UPDATE
     ) RETURNING id, ${events ? 'event_ids::text' : 'NULL'} AS event_ids`,
    [int8Array(ids)],
  );
  return r.rows.map((row) => ({ id: row.id, events: parseIds(row.event_ids) }));
}

/**
 * Applies identity (identifiers, links, cluster replays, traits, event attribution) to committed
 * events, in batches of up to 20 000 events in their own transactions, instead of inside every
 * ingest commit (as the SQLite store does, see sqlite/identity-applier.ts).
 *
 * Why: the identity graph's indexes take random keys and its merges take row locks; inside the
 * ingest transaction every group commit paid for both, and held the locks while its events were
 * written. The graph is a function of the stored events (resolve.ts), so it can be applied later.
 * Durability comes from `identity_pending`, one row per ingest commit naming its events, appended
 * by that commit: a batch deletes the rows it applies in its own transaction, so a row exists
 * exactly while its events are unapplied.
 *
 * Who applies: the collector that stored the events, from its in-memory list (no payload to read
 * back). Rows older than ORPHAN_AGE_MS belong to a collector that died (or fell far behind): every
 * collector sweeps them, claimed with SKIP LOCKED, re-deriving identity from the stored payloads.
 * A row is only ever applied by the transaction that deleted it (see `claim`), so the two never
 * apply an event twice; the concurrency safety of the graph itself is identity-writer.ts's.
 *
 * Read-your-writes (`sync`): see there.
 */
export class PgIdentityApplier {
  private list: PendingCommit[] = [];
  /** Events in `list`. */
  private events = 0;
  /** Commits queued so far. */
  private enqueued = 0;
  private oldestAt = 0;
  private lastEnqueueAt = 0;
  /** After a failed batch, the next try waits (the database may be down or refusing). */
  private readonly backoff = new RetryBackoff();
  private timer: NodeJS.Timeout | null = null;
  private readonly sweeper: NodeJS.Timeout;
  /** This process's identity transactions run one at a time: the tail of that chain. */
  private chain: Promise<unknown> = Promise.resolve();
  private applying = false;
  private closed = false;
  private syncing: Promise<void> | null = null;
  private nextSync: Promise<void> | null = null;

  constructor(
    private readonly pool: pg.Pool,
    private readonly identity: PgIdentityWriter,
    private readonly config: IdentityConfig,
    private readonly onError: (err: Error) => void,
    private readonly onFailed: (failure: IdentityFailure) => void = () => undefined,
  ) {
    this.sweeper = setInterval(() => {
      this.serial(() => this.sweep()).catch(onError);
    }, SWEEP_INTERVAL_MS);
    this.sweeper.unref();
  }

  /** Events this process stored and has not applied yet. */
  get size(): number {
    return this.events;
  }

  /** Queues the events of a commit just done: its pending row `pendingId`, `ids[i]` the id of `rows[i]`. */
  enqueue(pendingId: number, rows: readonly CommitRow[], ids: readonly number[]): void {
    if (rows.length === 0) return;
    const now = performance.now();
    if (this.events === 0) this.oldestAt = now;
    this.lastEnqueueAt = now;
    this.events += rows.length;
    this.list.push({
      id: pendingId,
      seq: ++this.enqueued,
      items: rows.map((r, i) => ({
        eventId: ids[i] as number,
        receivedAt: r.receivedAtMs,
        sourceId: r.sourceId,
        anonymousId: r.identAnonymousId,
        userId: r.identUserId,
        extra: r.identityExtra,
        ts: r.timestampMs,
        messageId: r.messageId,
      })),
    });
    if (this.events >= BATCH_EVENTS) this.kick();
    else this.schedule();
  }

  private schedule(): void {
    if (this.timer || this.applying || this.closed || this.events === 0) return;
    this.timer = setTimeout(
      () => {
        this.timer = null;
        const now = performance.now();
        if (this.backoff.waitMs(now) > 0) this.schedule();
        else if (now - this.lastEnqueueAt >= IDLE_MS || now - this.oldestAt >= MAX_LAG_MS) this.kick();
        else this.schedule();
      },
      Math.max(IDLE_MS, this.backoff.waitMs()),
    );
  }

  private kick(): void {
    if (this.applying || this.closed) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.applying = true;
    this.serial(() => this.applyOwn())
      .then(
        () => this.backoff.succeeded(),
        (err: Error) => {
          this.backoff.failed();
          this.onError(err);
        },
      )
      .finally(() => {
        this.applying = false;
        if (this.events >= BATCH_EVENTS && this.backoff.waitMs() === 0) this.kick();
        else this.schedule();
      });
  }

  /** An identity transaction: the identifiers it resolves join the process's cache once it commits. */
  private async transaction<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    const result = await inTransaction(this.pool, (c) => {
      this.identity.cache.begin();
      return fn(c);
    });
    this.identity.cache.keep();
    return result;
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn);
    this.chain = run.catch(() => undefined);
    return run;
  }

  /** Applies the oldest commits of this process's list, about BATCH_EVENTS events; on failure they stay queued. */
  private async applyOwn(): Promise<void> {
    let take = 0;
    let events = 0;
    while (take < this.list.length && (take === 0 || events < BATCH_EVENTS)) {
      events += (this.list[take] as PendingCommit).items.length;
      take++;
    }
    const batch = this.list.splice(0, take);
    if (batch.length === 0) return;
    this.events -= events;
    try {
      await this.claimAndApply(async (c, apply) => {
        const claimed = await claim(
          c,
          batch.map((p) => p.id),
          false,
        );
        const taken = new Set(claimed.map((x) => x.id));
        await apply(batch.filter((p) => taken.has(p.id)).flatMap((p) => p.items));
      });
    } catch (err) {
      this.list = batch.concat(this.list);
      this.events += events;
      throw err;
    }
    // The rest arrived during this batch: its lag is counted from now (at most one batch late).
    this.oldestAt = performance.now();
  }

  /**
   * An identity transaction that claims events and applies them (`work` calls `apply`). When it
   * fails the way it would on every retry (not the database or the connection failing, see
   * `failsEveryTime`), identity would stop for good, and past the backlog bound ingest with it:
   * the transaction is run again with the events applied in isolating steps (`applyIsolating`).
   */
  private async claimAndApply<T>(
    work: (c: pg.PoolClient, apply: (items: readonly PendingIdentity[]) => Promise<void>) => Promise<T>,
  ): Promise<T> {
    try {
      return await this.transaction((c) => work(c, (items) => this.apply(c, items)));
    } catch (err) {
      if (!failsEveryTime(err)) throw err;
      const failures: IdentityFailure[] = [];
      const result = await this.transaction((c) => {
        failures.length = 0;
        return work(c, (items) => this.applyIsolating(c, items, failures));
      });
      for (const f of failures) this.onFailed(f);
      return result;
    }
  }

  /**
   * Applies the events in halves, each under a savepoint, down to the events that fail alone:
   * those are set aside (`identity_failures`), stored but attributed to no profile. Identity is
   * a function of the set of events (resolve.ts), so applying it in parts gives what one step
   * would. All in the claiming transaction: if it does not commit, nothing is set aside.
   */
  private async applyIsolating(
    c: pg.PoolClient,
    items: readonly PendingIdentity[],
    failures: IdentityFailure[],
  ): Promise<void> {
    if (items.length === 0) return;
    await c.query('SAVEPOINT identity_part');
    try {
      await this.apply(c, items);
      await c.query('RELEASE SAVEPOINT identity_part');
      return;
    } catch (err) {
      if (!failsEveryTime(err)) throw err;
      await c.query('ROLLBACK TO SAVEPOINT identity_part');
      await c.query('RELEASE SAVEPOINT identity_part');
      // What the rolled-back part's identifiers taught the cache does not exist.
      this.identity.cache.begin();
      if (items.length === 1) {
        const p = items[0] as PendingIdentity;
        const error = (err as Error).message;
        await c.query(
          `INSERT INTO identity_failures (event_id, received_at, message_id, error, failed_at)
           VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`,
          [p.eventId, p.receivedAt, p.messageId, error, Date.now()],
        );
        failures.push({ eventId: p.eventId, messageId: p.messageId, error });
        return;
      }
    }
    const half = Math.ceil(items.length / 2);
    await this.applyIsolating(c, items.slice(0, half), failures);
    await this.applyIsolating(c, items.slice(half), failures);
  }

  /** Until this process's list is below the backlog bound; throws when a batch fails. */
  async relieve(): Promise<void> {
    while (this.events >= MAX_PENDING_EVENTS) await this.serial(() => this.applyOwn());
  }

  /**
   * Applies what this process had queued when called. Only that: while ingest goes on, the list
   * never empties, and a read waiting for an empty list waited for as long as ingest lasted.
   */
  private async drainOwn(): Promise<void> {
    const upTo = this.enqueued;
    while ((this.list[0]?.seq ?? Number.POSITIVE_INFINITY) <= upTo) await this.serial(() => this.applyOwn());
  }

  /**
   * Read-your-writes, across collectors. The rule: a profile read or an admin action first applies
   * every pending row that exists when it starts. An event answered 200 (by any collector) before
   * that has its row committed, so the row is either in the snapshot below, or already deleted by
   * a committed batch (applied), or being deleted by a batch still running — still visible, and
   * locked, so `claim` waits for that batch. This process's own list goes first (no payloads to
   * parse); whatever is left, whoever stored it, is claimed and re-derived from the payloads.
   * Calls that arrive while one runs share the next run (the running one may have taken its
   * snapshot before their events committed).
   */
  sync(): Promise<void> {
    if (this.syncing === null) {
      this.syncing = this.syncNow().finally(() => {
        this.syncing = null;
      });
      return this.syncing;
    }
    this.nextSync ??= this.syncing
      .catch(() => undefined)
      .then(() => {
        this.nextSync = null;
        return this.sync();
      });
    return this.nextSync;
  }

  private async syncNow(): Promise<void> {
    await this.drainOwn();
    const r = await this.pool.query<{ ids: string | null }>(
      'SELECT array_agg(id ORDER BY id)::text AS ids FROM identity_pending',
    );
    const all = parseIds(r.rows[0]?.ids);
    for (let i = 0; i < all.length; i += COMMITS_PER_CLAIM) {
      const chunk = all.slice(i, i + COMMITS_PER_CLAIM);
      await this.serial(() =>
        this.claimAndApply(async (c, apply) => {
          const claimed = await claim(c, chunk, true);
          const ids = claimed.flatMap((x) => x.events);
          if (ids.length > 0) await apply(await this.readBack(c, ids));
        }),
      );
    }
  }

  /** Applies rows of dead (or far behind) collectors; answers how many it took. */
  private async sweep(): Promise<number> {
    let total = 0;
    for (;;) {
      const n = await this.claimAndApply(async (c, apply) => {
        const r = await c.query<{ event_ids: string }>(
          `DELETE FROM identity_pending WHERE id IN (
             SELECT id FROM identity_pending WHERE received_at < $1
             ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED
           ) RETURNING event_ids::text`,
          [Date.now() - ORPHAN_AGE_MS, COMMITS_PER_CLAIM],
        );
        const ids = r.rows.flatMap((row) => parseIds(row.event_ids));
        if (ids.length > 0) await apply(await this.readBack(c, ids));
        return r.rows.length;
      });
      total += n;
      if (n < COMMITS_PER_CLAIM || this.closed) return total;
    }
  }

  /** The identity inputs of stored events, re-derived from their payloads (as the ingest route derives them). */
  private async readBack(c: Db, ids: readonly number[]): Promise<PendingIdentity[]> {
    const r = await c.query<{
      id: number;
      source_id: number;
      message_id: string;
      ts: number;
      received_at: number;
      payload: string;
    }>(
      'SELECT id, source_id, message_id, ts, received_at, payload FROM events WHERE id = ANY($1::bigint[]) ORDER BY id',
      [int8Array(ids)],
    );
    return r.rows.map((row) => {
      const id = eventIdentity(JSON.parse(row.payload), row.ts, row.message_id, this.config);
      return {
        eventId: row.id,
        receivedAt: row.received_at,
        sourceId: row.source_id,
        anonymousId: id.anonymousId,
        userId: id.userId,
        extra: id.extra,
        ts: row.ts,
        messageId: row.message_id,
      };
    });
  }

  /** Identity for claimed events, in the claiming transaction, and their attribution (event_owners). */
  private async apply(c: pg.PoolClient, items: readonly PendingIdentity[]): Promise<void> {
    if (items.length === 0) return;
    await this.identity.excludeErasures(c);
    const ids = await this.identity.process(c, items, this.identity.anySuppressed(c));
    const owned: [number, number, number, number][] = [];
    const erased: PendingIdentity[] = [];
    items.forEach((p, i) => {
      const x = ids[i];
      if (x === null || x === undefined) {
        erased.push(p);
        return;
      }
      const owner = x.user ?? x.anon;
      if (owner !== null) owned.push([owner, p.ts, p.eventId, p.receivedAt]);
    });
    if (owned.length > 0) {
      // In key order: each page of the attribution index is written once per batch.
      owned.sort((a, b) => a[0] - b[0] || a[1] - b[1] || a[2] - b[2]);
      await c.query(
        `INSERT INTO event_owners (owner, ts, event_id, received_at)
         SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[])`,
        [
          int8Array(owned.map((o) => o[0])),
          int8Array(owned.map((o) => o[1])),
          int8Array(owned.map((o) => o[2])),
          int8Array(owned.map((o) => o[3])),
        ],
      );
    }
    if (erased.length > 0) {
      // The person was erased between the event's commit and now: the event goes as if it had
      // arrived after the erasure (suppressed), and a re-send is suppressed again, not a duplicate.
      await c.query('DELETE FROM events WHERE id = ANY($1::bigint[])', [int8Array(erased.map((p) => p.eventId))]);
      await c.query(
        'DELETE FROM event_ids WHERE (source_id, message_id) IN (SELECT * FROM unnest($1::int[], $2::text[]))',
        [int4Array(erased.map((p) => p.sourceId)), textArray(erased.map((p) => p.messageId))],
      );
    }
  }

  /** Forgets this process's list without applying it, as a kill -9 would (tests). */
  abandon(): void {
    this.closed = true;
    clearInterval(this.sweeper);
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.list = [];
    this.events = 0;
  }

  /** Applies what this process still holds (best effort: on failure its rows stay for the sweepers). */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.sweeper);
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    try {
      await this.drainOwn();
    } catch (err) {
      this.onError(err as Error);
    }
    await this.chain;
  }
}
