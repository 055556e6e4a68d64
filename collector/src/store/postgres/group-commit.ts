import type pg from 'pg';
import { errorText } from '../error-text.js';
import type { EventRow, InsertOutcome } from '../store.js';
import { StoreUnavailableError } from '../store.js';
import { inTransaction } from './connection.js';
import {
  type CommitAttempt,
  type CommitRequest,
  type CommitRow,
  commitRequest,
  singleEvent,
  writeEvents,
} from './event-writer.js';
import type { PgIdentityApplier } from './identity-applier.js';
import type { PgIdentityWriter } from './identity-writer.js';
import type { MonthPartitions } from './month-partitions.js';
import { monthPartition } from './month-partitions.js';
import { failsEveryTime } from './pg-errors.js';

interface Pending extends CommitRequest {
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
 * After a quick commit had to be redone (a repeated key: a client re-sending), commits go the
 * careful way for this long: repeats tend to come in runs (a retried batch, a page's beacons
 * re-sent on the next load), and each redo costs the quick try's work.
 */
const CAREFUL_AFTER_REDO_MS = 1000;
/**
 * How long an ingest commit's statements may wait for a lock (a `LOCK TABLE`, a migration, a
 * long transaction holding a key): then the commit rolls back and its requests get 503, as
 * SQLite's busy timeout does, instead of holding every client's request for as long as the lock
 * lasts while readiness said all was well.
 */
export const INGEST_LOCK_TIMEOUT_MS = 5000;
const INGEST_TRANSACTION = { lockTimeoutMs: INGEST_LOCK_TIMEOUT_MS };

/**
 * A commit failure that the commit's data causes, and would cause again (pg-errors.ts). A missing
 * month partition is a check violation too, but another collector's retention caused it: the next
 * commit re-creates the month.
 */
const failsInItsData = (err: unknown) => failsEveryTime(err) && (err as { code?: string }).code !== NO_PARTITION;

/**
 * Group commit: requests arriving in the same tick share one transaction (event-writer.ts), and
 * their identity is handed to the applier once it has committed.
 */
export class GroupCommit {
  private readonly queue: Pending[] = [];
  private inFlight = 0;
  private scheduled = false;
  private pending = 0;
  private idle: (() => void) | null = null;
  private carefulUntil = 0;
  /** The last commit failed: readiness checks that the database takes writes (see `PostgresStore.ping`). */
  lastFailed = false;

  constructor(
    private readonly pool: pg.Pool,
    private readonly partitions: MonthPartitions,
    private readonly identity: PgIdentityWriter | null,
    private readonly applier: PgIdentityApplier | null,
    private readonly onCommit: ((info: { events: number; requests: number; ms: number }) => void) | undefined,
  ) {}

  get pendingEvents(): number {
    return this.pending;
  }

  /** Takes what it needs from `rows` before returning (payloads encoded), so the caller may drop them. */
  submit(rows: readonly EventRow[]): Promise<InsertOutcome[]> {
    this.pending += rows.length;
    const request = commitRequest(rows);
    return new Promise((resolve, reject) => {
      this.queue.push({ ...request, resolve, reject });
      this.schedule();
    });
  }

  /** Resolves once the requests already handed over are committed (or failed). */
  async drain(): Promise<void> {
    if (this.inFlight > 0 || this.queue.length > 0) {
      await new Promise<void>((resolve) => {
        this.idle = resolve;
        this.schedule();
      });
    }
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

  /** One commit's transaction, tried the quick way unless a redo was needed lately (event-writer.ts). */
  private async write(batch: readonly CommitRequest[]): ReturnType<typeof writeEvents> {
    const attempt: CommitAttempt = { careful: performance.now() < this.carefulUntil, redo: false };
    try {
      return await inTransaction(
        this.pool,
        (c, tail) => writeEvents(c, this.identity, batch, tail, attempt),
        INGEST_TRANSACTION,
      );
    } catch (err) {
      if (!attempt.redo) throw err;
      this.carefulUntil = performance.now() + CAREFUL_AFTER_REDO_MS;
      const careful: CommitAttempt = { careful: true, redo: false };
      return await inTransaction(
        this.pool,
        (c, tail) => writeEvents(c, this.identity, batch, tail, careful),
        INGEST_TRANSACTION,
      );
    }
  }

  /** Commits the requests' events in one transaction and hands their identity to the applier. */
  private async commit(batch: readonly CommitRequest[]): Promise<InsertOutcome[][]> {
    const { outcomes, stored, pending } = await this.write(batch);
    // Before the 200s: a read that follows one finds the events in this process's list.
    if (pending) {
      const { id, eventIds } = await pending;
      this.applier?.enqueue(id, stored, eventIds);
    }
    return outcomes;
  }

  /**
   * A commit failed for a reason in its data (pg-errors.ts): it would fail again on every retry,
   * and take every request sharing it down each time. Each request is committed alone; one that
   * still fails, event by event, and an event failing alone is refused (rejected with the
   * database's reason) while the rest is stored. A failure of the database on the way fails the
   * request (503): events committed before it are found stored when the client retries (dedup).
   */
  private async commitAlone(batch: readonly Pending[]): Promise<void> {
    for (const p of batch) {
      try {
        p.resolve((await this.commit([p]))[0] as InsertOutcome[]);
        continue;
      } catch (err) {
        if (!failsInItsData(err)) {
          p.reject(new StoreUnavailableError(`commit failed: ${errorText(err)}`, { cause: err }));
          continue;
        }
      }
      const outcomes: InsertOutcome[] = [];
      try {
        for (let e = 0; e < p.rows.length; e++) {
          try {
            outcomes.push(((await this.commit([singleEvent(p, e)]))[0] as InsertOutcome[])[0] as InsertOutcome);
          } catch (err) {
            if (!failsInItsData(err)) throw err;
            outcomes.push({ refused: (err as Error).message, messageId: (p.rows[e] as CommitRow).messageId });
          }
        }
      } catch (err) {
        p.reject(new StoreUnavailableError(`commit failed: ${errorText(err)}`, { cause: err }));
        continue;
      }
      p.resolve(outcomes);
    }
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
          if (!this.partitions.has(r.receivedAtMs)) months.set(monthPartition(r.receivedAtMs).name, r.receivedAtMs);
        }
      }
      for (const ms of months.values()) await this.partitions.ensure(ms);
      // Identity cannot keep up (or keeps failing): commits wait, then fail (503, clients retry),
      // rather than this process queueing without bound.
      await this.applier?.relieve();
      let outcomes: InsertOutcome[][];
      try {
        outcomes = await this.commit(batch);
      } catch (err) {
        if (!failsInItsData(err)) throw err;
        await this.commitAlone(batch);
        return;
      }
      this.lastFailed = false;
      this.onCommit?.({ events, requests: batch.length, ms: performance.now() - started });
      batch.forEach((p, i) => {
        p.resolve(outcomes[i] as InsertOutcome[]);
      });
    } catch (err) {
      // A month this process believed in is gone (another collector's retention dropped it): the
      // next commit checks again and re-creates it, instead of failing until a restart.
      if ((err as { code?: string }).code === NO_PARTITION) this.partitions.forget();
      this.lastFailed = true;
      // Rolled back (or never began): nothing of these requests is stored, so the clients retry.
      const e = new StoreUnavailableError(`commit failed: ${errorText(err)}`, { cause: err });
      for (const p of batch) p.reject(e);
    } finally {
      this.pending -= events;
      this.inFlight--;
      if (this.inFlight === 0 && this.queue.length === 0) this.idle?.();
      this.schedule();
    }
  }
}
