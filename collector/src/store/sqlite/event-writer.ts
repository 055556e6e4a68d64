import { dedupHash } from '../../ingest/hash.js';
import { HashFilter } from './hash-filter.js';
import type { IdentityApplier, PendingIdentity } from './identity-applier.js';
import type { SqliteDatabase } from './open.js';
import { RowBatcher } from './row-batcher.js';
import { readSetting, writeSetting } from './settings.js';

/** Fields per event in the flat array a request ships to the writer thread (cheaper to clone). */
export const ROW_WIDTH = 11;
// [sourceId, dedupHash, messageId, type, name, timestampMs, receivedAtMs, payload,
//  identAnonymousId, identUserId, identityExtra]

export const STORED = 1;
export const DUPLICATE = 2;
export const SUPPRESSED = 3;
/** Set by the writer thread for an event whose write failed alone (writer-worker.ts). */
export const REFUSED = 4;

/** Recent dedup keys held in memory before they are merged into the on-disk index in one sorted pass. */
export const DEFAULT_MERGE_THRESHOLD = 200_000;
/** Keys merged per transaction; the writer commits ingest groups between steps. */
const MERGE_STEP_HASHES = 20_000;
const WATERMARK_SETTING = 'dedup_watermark';

interface Ref {
  req: number;
  ev: number;
  hash: number;
  sourceId: number;
  messageId: string;
  key: string;
  id: number;
}

const keyOf = (sourceId: number, messageId: string) => `${sourceId}\u0000${messageId}`;

/**
 * Commits many requests' events in one transaction (group commit), deduplicating by
 * (source, messageId) exactly.
 *
 * Why two levels: random v4 messageIds scatter inserts over the whole dedup B-tree, so every
 * commit would dirty (and write to the WAL) a page per event. Instead the keys of recent events
 * live in memory (`recent`), and every `mergeThreshold` events they are merged into the on-disk
 * `dedup` index in hash order, which writes each index page once per merge (in steps, between
 * ingest commits). Nothing is lost on a
 * crash: the events table itself holds the keys of everything after the merge watermark, and
 * they are loaded back into memory at start.
 */
export class EventWriter {
  private nextId: number;
  private recent = new Map<string, { hash: number; id: number }>();
  /** Keys being merged into the on-disk index (still answered from memory until it is done). */
  private merging: {
    keys: Map<string, { hash: number; id: number }>;
    sorted: Float64Array;
    byHash: Map<number, [string, number][]>;
    next: number;
    watermark: number;
  } | null = null;
  /** Every hash in the on-disk index (plus false positives): most new events skip the lookup. */
  private readonly merged = new HashFilter();
  private readonly dedupOwner;
  private readonly findEvent;
  private readonly findOverflow;
  private readonly insertOverflow;
  private readonly insertEvents;
  private readonly insertDedup;

  constructor(
    private readonly db: SqliteDatabase,
    private readonly identity: IdentityApplier | null = null,
    private readonly mergeThreshold = DEFAULT_MERGE_THRESHOLD,
  ) {
    if (!Number.isInteger(mergeThreshold) || mergeThreshold < 1) throw new RangeError('mergeThreshold must be >= 1');
    const row = db.prepare('SELECT max(id) AS id FROM events').get() as { id: number | null };
    this.nextId = (row.id ?? 0) + 1;
    this.dedupOwner = db.prepare('SELECT event_id FROM dedup WHERE hash = ?').pluck();
    this.findEvent = db.prepare('SELECT source_id, message_id FROM events WHERE id = ?').raw();
    this.findOverflow = db.prepare('SELECT 1 FROM dedup_overflow WHERE source_id = ? AND message_id = ?').pluck();
    this.insertOverflow = db.prepare(
      'INSERT OR IGNORE INTO dedup_overflow (source_id, message_id, event_id) VALUES (?, ?, ?)',
    );
    this.insertEvents = new RowBatcher(
      db,
      'INSERT INTO events (id, source_id, message_id, type, name, ts, received_at, payload)',
      8,
    );
    this.insertDedup = new RowBatcher(db, 'INSERT OR IGNORE INTO dedup (hash, event_id)', 2);
    for (const hash of db.prepare('SELECT hash FROM dedup').pluck().iterate() as Iterable<number>)
      this.merged.add(hash);
    this.loadRecent();
  }

  /** Keys of events stored after the last merge, read back from the events table. */
  private loadRecent(): void {
    const watermark = Number(readSetting(this.db, WATERMARK_SETTING) ?? 0);
    const rows = this.db
      .prepare('SELECT id, source_id, message_id FROM events WHERE id > ? ORDER BY id')
      .raw()
      .iterate(watermark) as Iterable<[number, number, string]>;
    for (const [id, sourceId, messageId] of rows) {
      this.recent.set(keyOf(sourceId, messageId), { hash: dedupHash(sourceId, messageId), id });
    }
    if (this.recent.size >= this.mergeThreshold) this.merge();
  }

  /** Writes every request's rows in one transaction; returns, per request, STORED/DUPLICATE per event. */
  write(requests: readonly (readonly unknown[])[]): Uint8Array[] {
    let result: ReturnType<EventWriter['writeInTransaction']>;
    try {
      result = this.db.transaction(() => this.writeInTransaction(requests)).immediate();
    } catch (err) {
      this.insertEvents.discard();
      throw err;
    }
    // Only committed keys count as stored: a failed commit's events must be accepted on retry.
    for (const ref of result.stored) this.recent.set(ref.key, { hash: ref.hash, id: ref.id });
    this.identity?.enqueue(result.identities);
    if (this.recent.size >= this.mergeThreshold) this.startMerge();
    return result.outcomes;
  }

  get recentKeys(): number {
    return this.recent.size;
  }

  private writeInTransaction(requests: readonly (readonly unknown[])[]): {
    outcomes: Uint8Array[];
    stored: Ref[];
    identities: PendingIdentity[];
  } {
    const outcomes = requests.map((rows) => new Uint8Array(rows.length / ROW_WIDTH).fill(DUPLICATE));
    const fresh: Ref[] = [];
    // Repeats inside this commit (a retry racing its original) never reach the database.
    const seen = new Set<string>();
    for (let r = 0; r < requests.length; r++) {
      const rows = requests[r] as unknown[];
      for (let e = 0; e < rows.length / ROW_WIDTH; e++) {
        const b = e * ROW_WIDTH;
        const sourceId = rows[b] as number;
        const messageId = rows[b + 2] as string;
        const key = keyOf(sourceId, messageId);
        if (seen.has(key) || this.recent.has(key) || this.merging?.keys.has(key)) continue;
        seen.add(key);
        const hash = rows[b + 1] as number;
        if (this.storedBeforeMerge(hash, sourceId, messageId)) continue;
        fresh.push({ req: r, ev: e, hash, sourceId, messageId, key, id: 0 });
      }
    }
    const stored: Ref[] = [];
    const identities: PendingIdentity[] = [];
    for (const ref of fresh) {
      const rows = requests[ref.req] as unknown[];
      const b = ref.ev * ROW_WIDTH;
      if (this.identity) {
        const anonymousId = rows[b + 8] as string | null;
        const userId = rows[b + 9] as string | null;
        const extra = rows[b + 10] as string | null;
        if (this.identity.isSuppressed(anonymousId, userId, extra, rows[b + 5] as number)) {
          (outcomes[ref.req] as Uint8Array)[ref.ev] = SUPPRESSED;
          continue;
        }
        if (anonymousId !== null || userId !== null || extra !== null) {
          identities.push({
            eventId: this.nextId,
            anonymousId,
            userId,
            extra,
            ts: rows[b + 5] as number,
            messageId: ref.messageId,
          });
        }
      }
      ref.id = this.nextId++;
      stored.push(ref);
      (outcomes[ref.req] as Uint8Array)[ref.ev] = STORED;
      this.insertEvents.add(
        ref.id,
        rows[b],
        rows[b + 2],
        rows[b + 3],
        rows[b + 4],
        rows[b + 5],
        rows[b + 6],
        rows[b + 7],
      );
    }
    this.insertEvents.flush();
    return { outcomes, stored, identities };
  }

  /** Looks the message up in the merged (on-disk) index; a read, so no page is dirtied. */
  private storedBeforeMerge(hash: number, sourceId: number, messageId: string): boolean {
    if (!this.merged.mightContain(hash)) return false;
    const owner = this.dedupOwner.get(hash) as number | undefined;
    if (owner === undefined) return false;
    const existing = this.findEvent.get(owner) as [number, string] | undefined;
    if (existing && existing[0] === sourceId && existing[1] === messageId) return true;
    // Another message owns this hash (a true 53-bit collision): the exact overflow table decides.
    return this.findOverflow.get(sourceId, messageId) !== undefined;
  }

  private overflowStep(m: NonNullable<EventWriter['merging']>, end: number): void {
    for (let i = m.next; i < end; i++) {
      const hash = m.sorted[i] as number;
      for (const [key, id] of m.byHash.get(hash) as [string, number][]) {
        if (this.dedupOwner.get(hash) === id) continue;
        const sep = key.indexOf('\u0000');
        this.insertOverflow.run(Number(key.slice(0, sep)), key.slice(sep + 1), id);
      }
    }
  }

  /** True while a merge is under way; the writer thread runs `mergeStep()` between commits. */
  get mergePending(): boolean {
    return this.merging !== null;
  }

  /** Moves every in-memory key into the on-disk index now (at close, and in tests). */
  merge(): void {
    while (this.mergeStep(Number.POSITIVE_INFINITY));
    this.startMerge();
    while (this.mergeStep(Number.POSITIVE_INFINITY));
  }

  /**
   * Hands the recent keys to a merge, sorted by hash. Until the merge finishes they are still
   * looked up in memory, so dedup holds while it runs in steps between commits.
   */
  private startMerge(): void {
    if (this.merging || this.recent.size === 0) return;
    // A numeric sort of a typed array: an object-comparator sort of 200k entries cost a fifth of
    // the writer's time.
    const byHash = new Map<number, [string, number][]>();
    const hashes = new Float64Array(this.recent.size);
    let n = 0;
    let watermark = 0;
    for (const [key, { hash, id }] of this.recent) {
      if (id > watermark) watermark = id;
      const list = byHash.get(hash);
      if (list) list.push([key, id]);
      else {
        byHash.set(hash, [[key, id]]);
        hashes[n++] = hash;
      }
    }
    this.merging = { keys: this.recent, sorted: hashes.subarray(0, n).sort(), byHash, next: 0, watermark };
    this.recent = new Map();
  }

  /**
   * Merges the next `maxHashes` keys of the merge under way into the on-disk index, in hash order,
   * in one transaction; the last step also advances the watermark. Returns true while more remain.
   * Steps keep a 200k-key merge from holding up commits for a second at a time.
   */
  mergeStep(maxHashes = MERGE_STEP_HASHES): boolean {
    const m = this.merging;
    if (!m) return false;
    const end = Math.min(m.sorted.length, m.next + maxHashes);
    try {
      this.db
        .transaction(() => {
          let rows = 0;
          const before = this.insertDedup.changes;
          for (let i = m.next; i < end; i++) {
            const hash = m.sorted[i] as number;
            for (const [, id] of m.byHash.get(hash) as [string, number][]) {
              this.insertDedup.add(hash, id);
              rows++;
            }
          }
          this.insertDedup.flush();
          // Some hash was already taken (a 53-bit collision, or keys merged before a crash): find
          // which keys are not the hash's owner and keep them exactly in the overflow table.
          if (this.insertDedup.changes - before < rows) this.overflowStep(m, end);
          if (end === m.sorted.length) {
            writeSetting(this.db, WATERMARK_SETTING, String(m.watermark));
          }
        })
        .immediate();
    } catch (err) {
      this.insertDedup.discard();
      throw err;
    }
    for (let i = m.next; i < end; i++) this.merged.add(m.sorted[i] as number);
    m.next = end;
    if (end < m.sorted.length) return true;
    this.merging = null;
    return false;
  }
}
