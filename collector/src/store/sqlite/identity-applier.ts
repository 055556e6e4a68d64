import { eventIdentity } from '../../identity/event-identity.js';
import type { IdentityConfig } from '../../identity/identifiers.js';
import type { IdentityFailure } from '../store.js';
import type { IdentityWriter } from './identity-writer.js';
import type { SqliteDatabase } from './open.js';
import { RowBatcher } from './row-batcher.js';
import { readSetting, writeSetting } from './settings.js';
import { isEnvironmentError } from './sqlite-errors.js';

/** Event ids up to here have their identity (identifiers, links, traits, attribution) applied. */
export const IDENTITY_WATERMARK_SETTING = 'identity_watermark';
/** Events read back and applied per transaction at start. */
const RECOVERY_CHUNK = 20_000;

/** What identity resolution needs from one stored event (computed on the HTTP thread). */
export interface PendingIdentity {
  eventId: number;
  anonymousId: string | null;
  userId: string | null;
  extra: string | null;
  ts: number;
  messageId: string;
  /** Set aside by an earlier run (identity_failures) and tried again at start. */
  retried?: true;
}

/**
 * Applies identity to committed events in large batches instead of inside every ingest commit.
 *
 * Why: the identity graph's indexes (identifier hashes, links, memberships, event attribution)
 * take random keys, so a commit of 2 000 events dirtied a page per event in each of them.
 * One transaction over tens of thousands of events writes each of those pages once. The graph is a
 * function of the stored events (see resolve.ts), so nothing is lost by applying it later: the
 * watermark says which events are applied, and at start the events after it are read back from
 * the events table and applied before anything else. Reads that need the graph wait for
 * `apply()` (the store's `sync` request), so a profile read after a 200 still sees that event.
 */
export class IdentityApplier {
  private pending: PendingIdentity[] = [];
  private oldestAt = 0;
  private readonly attribute;
  private readonly recordFailure;
  private readonly forgetFailure;
  /** The watermark as stored: it only moves forward (a retried set-aside event is older). */
  private watermark = 0;

  constructor(
    private readonly db: SqliteDatabase,
    private readonly identity: IdentityWriter,
    private readonly config: IdentityConfig,
    private readonly onFailed: (failure: IdentityFailure) => void = () => undefined,
  ) {
    this.attribute = new RowBatcher(db, 'INSERT OR IGNORE INTO event_owner (owner, ts, event_id)', 3);
    this.recordFailure = db.prepare(
      'INSERT OR REPLACE INTO identity_failures (event_id, message_id, error, failed_at) VALUES (?, ?, ?, ?)',
    );
    this.forgetFailure = db.prepare('DELETE FROM identity_failures WHERE event_id = ?');
    this.recover();
  }

  /** Events committed but not yet applied. */
  get size(): number {
    return this.pending.length;
  }

  /** Milliseconds the oldest unapplied event has waited (0 when none). */
  lagMs(now = performance.now()): number {
    return this.pending.length === 0 ? 0 : now - this.oldestAt;
  }

  /** True when the event is an erased person's (identifier or period): it must not be stored at all. */
  isSuppressed(anonymousId: string | null, userId: string | null, extra: string | null, ts: number): boolean {
    return this.identity.suppressesEvent(anonymousId, userId, extra, ts);
  }

  /** Queues committed events, in event-id order. */
  enqueue(items: readonly PendingIdentity[]): void {
    if (items.length === 0) return;
    if (this.pending.length === 0) this.oldestAt = performance.now();
    for (const item of items) this.pending.push(item);
  }

  /**
   * Applies every queued event, in one transaction when it can; returns how many were applied or
   * set aside. A failure of the machine (disk full, I/O) leaves everything not yet committed
   * queued and is thrown. Any other failure would recur on every retry, and identity would stop
   * for good (past the backlog bound, ingest too): the batch is split in halves, each in its own
   * transaction, down to the events that fail alone. Those are set aside (`identity_failures`,
   * reported through `onFailed`): stored, not attributed to a profile. Identity is a function of
   * the set of events (resolve.ts), so applying a batch in parts gives what one transaction would.
   */
  apply(): number {
    const batch = this.pending;
    if (batch.length === 0) return 0;
    let done = 0;
    const run = (items: PendingIdentity[]): void => {
      try {
        this.applyInTransaction(items);
      } catch (err) {
        if (isEnvironmentError(err)) throw err;
        if (items.length > 1) {
          const half = Math.ceil(items.length / 2);
          run(items.slice(0, half));
          run(items.slice(half));
          return;
        }
        this.setAside(items[0] as PendingIdentity, err as Error);
      }
      done += items.length;
    };
    try {
      run(batch);
    } catch (err) {
      // In event-id order: what committed is a prefix of the batch.
      this.pending = batch.slice(done);
      throw err;
    }
    this.pending = [];
    return batch.length;
  }

  private applyInTransaction(items: readonly PendingIdentity[]): void {
    try {
      this.db
        .transaction(() => {
          const owned: [number, number, number][] = [];
          for (const p of items) {
            const ids = this.identity.processEvent(p.anonymousId, p.userId, p.extra, p.ts, p.messageId);
            const owner = ids === null ? null : (ids.user ?? ids.anon);
            if (owner !== null) owned.push([owner, p.ts, p.eventId]);
          }
          // In key order, so each page of the attribution index is written once per batch.
          owned.sort((x, y) => x[0] - y[0] || x[1] - y[1] || x[2] - y[2]);
          for (const [owner, ts, eventId] of owned) this.attribute.add(owner, ts, eventId);
          this.attribute.flush();
          this.identity.recomputeDirty();
          for (const p of items) if (p.retried) this.forgetFailure.run(p.eventId);
          this.advanceWatermark((items[items.length - 1] as PendingIdentity).eventId);
        })
        .immediate();
    } catch (err) {
      // Rolled back: caches may hold identifiers that were never committed, and the watermark moved back.
      this.attribute.discard();
      this.identity.resetCaches();
      this.watermark = this.storedWatermark();
      throw err;
    }
  }

  /** Records an event whose identity fails alone, and moves the watermark past it. */
  private setAside(p: PendingIdentity, err: Error): void {
    try {
      this.db
        .transaction(() => {
          this.recordFailure.run(p.eventId, p.messageId, err.message, Date.now());
          this.advanceWatermark(p.eventId);
        })
        .immediate();
    } catch (failed) {
      this.watermark = this.storedWatermark();
      throw failed;
    }
    this.onFailed({ eventId: p.eventId, messageId: p.messageId, error: err.message });
  }

  private storedWatermark(): number {
    return Number(readSetting(this.db, IDENTITY_WATERMARK_SETTING) ?? 0);
  }

  /** In the caller's transaction (which re-reads the stored value if it rolls back). */
  private advanceWatermark(eventId: number): void {
    if (eventId <= this.watermark) return;
    writeSetting(this.db, IDENTITY_WATERMARK_SETTING, String(eventId));
    this.watermark = eventId;
  }

  /**
   * Reads back the events stored after the watermark (a crash or kill between their commit and
   * their identity batch, or identity turned off meanwhile), then tries the events set aside by
   * earlier runs again: the bug that failed them may be fixed in this version. One that applies
   * now leaves identity_failures; one that fails again is set aside again. The watermark exists
   * from the database's first migration on (migration 7).
   */
  private recover(): void {
    this.watermark = this.storedWatermark();
    // In bounded chunks: after a run with identity turned off the backlog can be the whole history.
    const page = this.db
      .prepare('SELECT id, ts, message_id, payload FROM events WHERE id > ? ORDER BY id LIMIT ?')
      .raw();
    let after = this.watermark;
    for (;;) {
      const rows = page.all(after, RECOVERY_CHUNK) as [number, number, string, string][];
      const items: PendingIdentity[] = [];
      for (const [eventId, ts, messageId, payload] of rows) {
        const id = eventIdentity(JSON.parse(payload), ts, messageId, this.config);
        items.push({ eventId, anonymousId: id.anonymousId, userId: id.userId, extra: id.extra, ts, messageId });
        after = eventId;
      }
      this.enqueue(items);
      this.apply();
      if (rows.length < RECOVERY_CHUNK) break;
    }
    const setAside = this.db
      .prepare(
        'SELECT e.id, e.ts, e.message_id, e.payload FROM identity_failures f JOIN events e ON e.id = f.event_id ORDER BY e.id',
      )
      .raw()
      .all() as [number, number, string, string][];
    this.enqueue(
      setAside.map(([eventId, ts, messageId, payload]) => {
        const id = eventIdentity(JSON.parse(payload), ts, messageId, this.config);
        return {
          eventId,
          anonymousId: id.anonymousId,
          userId: id.userId,
          extra: id.extra,
          ts,
          messageId,
          retried: true,
        };
      }),
    );
    this.apply();
  }
}
