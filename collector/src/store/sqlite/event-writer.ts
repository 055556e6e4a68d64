import type { SqliteDatabase } from './open.js';

/** Fields per event in the flat array a request ships to the writer thread (cheaper to clone). */
export const ROW_WIDTH = 10;
// [sourceId, dedupHash, messageId, type, name, userId, anonymousId, timestampMs, receivedAtMs, payload]

export const STORED = 1;
export const DUPLICATE = 2;

interface Ref {
  req: number;
  ev: number;
  hash: number;
  sourceId: number;
  messageId: string;
  id: number;
  fresh: boolean;
}

/**
 * Commits many requests' events in one transaction (group commit). Dedup keys are inserted in
 * hash order so a commit walks the dedup B-tree once instead of hopping between random pages;
 * events get ids in receipt order so the events table only ever appends.
 */
export class EventWriter {
  private nextId: number;
  private readonly insertDedup;
  private readonly dedupOwner;
  private readonly findEvent;
  private readonly insertOverflow;
  private readonly insertEvent;

  constructor(private readonly db: SqliteDatabase) {
    const row = db.prepare('SELECT max(id) AS id FROM events').get() as { id: number | null };
    this.nextId = (row.id ?? 0) + 1;
    this.insertDedup = db.prepare('INSERT OR IGNORE INTO dedup (hash, event_id) VALUES (?, ?)');
    this.dedupOwner = db.prepare('SELECT event_id FROM dedup WHERE hash = ?').pluck();
    this.findEvent = db.prepare('SELECT source_id, message_id FROM events WHERE id = ?').raw();
    this.insertOverflow = db.prepare(
      'INSERT OR IGNORE INTO dedup_overflow (source_id, message_id, event_id) VALUES (?, ?, ?)',
    );
    this.insertEvent = db.prepare(
      'INSERT INTO events (id, source_id, message_id, type, name, user_id, anonymous_id, ts, received_at, payload) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
    );
  }

  /** Writes every request's rows in one transaction; returns, per request, STORED/DUPLICATE per event. */
  write(requests: readonly (readonly unknown[])[]): Uint8Array[] {
    return this.db.transaction(() => this.writeInTransaction(requests)).immediate();
  }

  private writeInTransaction(requests: readonly (readonly unknown[])[]): Uint8Array[] {
    const outcomes = requests.map((rows) => new Uint8Array(rows.length / ROW_WIDTH).fill(DUPLICATE));
    const refs: Ref[] = [];
    // Repeats inside this commit (a retry racing its original) never reach the database.
    const seen = new Set<string>();
    let id = this.nextId;
    for (let r = 0; r < requests.length; r++) {
      const rows = requests[r] as unknown[];
      for (let e = 0; e < rows.length / ROW_WIDTH; e++) {
        const b = e * ROW_WIDTH;
        const sourceId = rows[b] as number;
        const messageId = rows[b + 2] as string;
        const key = `${sourceId}\u0000${messageId}`;
        if (seen.has(key)) continue;
        seen.add(key);
        refs.push({ req: r, ev: e, hash: rows[b + 1] as number, sourceId, messageId, id: id++, fresh: false });
      }
    }
    const claims = new Map<number, Ref>();
    for (const ref of refs.slice().sort((a, b) => a.hash - b.hash)) {
      ref.fresh = this.claim(ref, claims);
    }
    for (const ref of refs) {
      if (!ref.fresh) continue;
      (outcomes[ref.req] as Uint8Array)[ref.ev] = STORED;
      const rows = requests[ref.req] as unknown[];
      const b = ref.ev * ROW_WIDTH;
      this.insertEvent.run(
        ref.id,
        rows[b],
        rows[b + 2],
        rows[b + 3],
        rows[b + 4],
        rows[b + 5],
        rows[b + 6],
        rows[b + 7],
        rows[b + 8],
        rows[b + 9],
      );
    }
    this.nextId = id;
    return outcomes;
  }

  /** True when this (source, messageId) was never stored. */
  private claim(ref: Ref, claims: Map<number, Ref>): boolean {
    if (this.insertDedup.run(ref.hash, ref.id).changes === 1) {
      claims.set(ref.hash, ref);
      return true;
    }
    // The hash is taken: by the same message (a duplicate) or, rarely, by another one.
    const inCommit = claims.get(ref.hash);
    let sameMessage: boolean;
    if (inCommit) sameMessage = false;
    else {
      const owner = this.dedupOwner.get(ref.hash) as number;
      const existing = this.findEvent.get(owner) as [number, string] | undefined;
      sameMessage = existing !== undefined && existing[0] === ref.sourceId && existing[1] === ref.messageId;
    }
    if (sameMessage) return false;
    return this.insertOverflow.run(ref.sourceId, ref.messageId, ref.id).changes === 1;
  }
}
