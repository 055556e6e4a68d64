import type pg from 'pg';
import type { EventRow, InsertOutcome } from '../store.js';
import {
  type EncodedTexts,
  encodedTextArray,
  encodeTexts,
  int4Array,
  int8Array,
  parseIds,
  textArray,
} from './binary-arrays.js';
import type { Tail } from './connection.js';
import type { PgIdentityWriter } from './identity-writer.js';

const keyOf = (sourceId: number, messageId: string) => `${sourceId}\u0000${messageId}`;

/** An event row as a commit holds it: its payload is in the request's encoded texts. */
export type CommitRow = Omit<EventRow, 'payload' | 'dedupHash' | 'userId' | 'anonymousId'>;

/** One request's events, waiting for a group commit. */
export interface CommitRequest {
  rows: readonly CommitRow[];
  payloads: EncodedTexts;
}

/** What a commit keeps of a request's rows (see `encodeTexts`: the payload strings can go at once). */
export function commitRequest(rows: readonly EventRow[]): CommitRequest {
  return {
    payloads: encodeTexts(rows.map((r) => r.payload)),
    rows: rows.map((r) => ({
      sourceId: r.sourceId,
      messageId: r.messageId,
      type: r.type,
      name: r.name,
      timestampMs: r.timestampMs,
      receivedAtMs: r.receivedAtMs,
      identAnonymousId: r.identAnonymousId,
      identUserId: r.identUserId,
      identityExtra: r.identityExtra,
    })),
  };
}

/** Event `e` of a request, as a request of its own (its payload's bytes shared, not copied). */
export function singleEvent(request: CommitRequest, e: number): CommitRequest {
  const { bytes, at } = request.payloads;
  const from = at[e] as number;
  const to = at[e + 1] as number;
  return {
    rows: [request.rows[e] as CommitRow],
    payloads: { bytes: bytes.subarray(from, to), at: Uint32Array.of(0, to - from) },
  };
}

/** SQLSTATE of unique_violation: a key already in `event_ids`. */
const UNIQUE_VIOLATION = '23505';

/**
 * One try at a commit. A quick one inserts every key plainly and is redone carefully (see
 * `writeEvents`) when `redo` is set: a key was there already, or an erased person's event came.
 */
export interface CommitAttempt {
  careful: boolean;
  redo: boolean;
}

/** Events that can be suppressed, as identity.suppressedAmong takes them. */
const suppressionInputs = (rows: readonly { row: CommitRow }[]) =>
  rows.map(({ row }) => ({
    anonymousId: row.identAnonymousId,
    userId: row.identUserId,
    extra: row.identityExtra,
    ts: row.timestampMs,
    messageId: row.messageId,
  }));

/**
 * Writes the events of many requests in the caller's transaction (group commit). Dedup is exact
 * across every collector process: the (source, messageId) key goes into `event_ids` first, and
 * only the keys this transaction inserted are stored; a concurrent insert of the same key waits
 * for the other transaction and then sees it.
 *
 * Two ways to do that. Careful: `INSERT … ON CONFLICT DO NOTHING` answers which keys were there,
 * and only the others are stored. Quick (most commits have no repeat): a plain insert of every key
 * and the events' insert right behind it, sent together; a key that was there fails the
 * transaction, and the caller redoes it carefully. The speculative insertion and the anti-join
 * cost PostgreSQL ~4 µs per key more than a plain insert (10.1-10.5, once 13.9, against 5.3-5.9
 * µs of backend CPU, 2 000-key commits into 600 000 random v4 keys), and the quick way waits for
 * no answer before sending the events.
 *
 * The same statement appends one `identity_pending` row naming the commit's events: identity is
 * applied afterwards, in large batches (identity-applier.ts), and that row is what makes it
 * durable. Also with identity off, so that a collector started later with identity on resolves
 * the events stored meanwhile (its sweep takes the old rows), as the SQLite store does. Only suppression (erased people) is checked here, as an event of an
 * erased person must not be stored at all. `pending` answers, once the transaction has committed,
 * the pending row's id and the stored events' ids in `stored` order.
 */
export async function writeEvents(
  c: pg.PoolClient,
  identity: PgIdentityWriter | null,
  requests: readonly CommitRequest[],
  tail: Tail,
  attempt: CommitAttempt,
): Promise<{
  outcomes: InsertOutcome[][];
  stored: CommitRow[];
  pending: Promise<{ id: number; eventIds: number[] }> | null;
}> {
  const outcomes = requests.map(({ rows }) => new Array<InsertOutcome>(rows.length).fill('duplicate'));
  // Repeats inside this commit (a retry racing its original) never reach the database.
  const seen = new Set<string>();
  const refs: { r: number; e: number; row: CommitRow }[] = [];
  requests.forEach(({ rows }, r) => {
    rows.forEach((row, e) => {
      const k = keyOf(row.sourceId, row.messageId);
      if (seen.has(k)) return;
      seen.add(k);
      refs.push({ r, e, row });
    });
  });
  const keys = [int4Array(refs.map((x) => x.row.sourceId)), textArray(refs.map((x) => x.row.messageId))];
  if (!attempt.careful) {
    // An erased person's event must not be stored: if anyone was ever erased, the events'
    // identifiers are checked, and a hit redoes the commit the careful way (which drops it).
    const anySuppressed = identity?.anySuppressed(c);
    const inserted = c.query(
      'INSERT INTO event_ids (source_id, message_id) SELECT * FROM unnest($1::int[], $2::text[])',
      keys,
    );
    inserted.catch((err: { code?: string }) => {
      if (err.code === UNIQUE_VIOLATION) attempt.redo = true;
    });
    tail(inserted);
    refs.forEach(({ r, e }) => {
      (outcomes[r] as InsertOutcome[])[e] = 'stored';
    });
    const result = insertStored(c, requests, refs, tail);
    if (identity && (await anySuppressed)) {
      const suppressed = await identity.suppressedAmong(c, suppressionInputs(refs));
      if (suppressed.size > 0) {
        attempt.redo = true;
        throw new Error("an erased person's event: the commit is redone the careful way");
      }
    }
    return { outcomes, ...result };
  }
  // Sent now, answered with the dedup statement's round trip (the transaction is pipelined).
  const anySuppressed = identity?.anySuppressed(c);
  // Answers only the ordinals of the keys already stored (usually none), not every new key.
  const already = await c.query<{ n: number }>(
    `WITH input AS (SELECT * FROM unnest($1::int[], $2::text[]) WITH ORDINALITY AS u(source_id, message_id, n)),
     ins AS (
       INSERT INTO event_ids (source_id, message_id) SELECT source_id, message_id FROM input
       ON CONFLICT DO NOTHING RETURNING source_id, message_id
     )
     SELECT n FROM input u
     WHERE NOT EXISTS (SELECT 1 FROM ins WHERE ins.source_id = u.source_id AND ins.message_id = u.message_id)`,
    keys,
  );
  const dup = new Set(already.rows.map((x) => x.n - 1));
  const fresh = dup.size === 0 ? refs : refs.filter((_, i) => !dup.has(i));
  const suppressed =
    identity && (await anySuppressed) ? await identity.suppressedAmong(c, suppressionInputs(fresh)) : null;
  const keep: typeof refs = [];
  const dropped: CommitRow[] = [];
  fresh.forEach((x, i) => {
    const out = outcomes[x.r] as InsertOutcome[];
    if (suppressed?.has(i)) {
      out[x.e] = 'suppressed';
      dropped.push(x.row);
      return;
    }
    out[x.e] = 'stored';
    keep.push(x);
  });
  if (dropped.length > 0) {
    // Not stored, so not a duplicate if re-sent: it is suppressed again.
    await c.query(
      'DELETE FROM event_ids WHERE (source_id, message_id) IN (SELECT * FROM unnest($1::int[], $2::text[]))',
      [int4Array(dropped.map((r) => r.sourceId)), textArray(dropped.map((r) => r.messageId))],
    );
  }
  return { outcomes, ...insertStored(c, requests, keep, tail) };
}

/** Inserts the events to store and the commit's `identity_pending` row, sent without awaiting. */
function insertStored(
  c: pg.PoolClient,
  requests: readonly CommitRequest[],
  refs: readonly { r: number; e: number; row: CommitRow }[],
  tail: Tail,
): { stored: CommitRow[]; pending: Promise<{ id: number; eventIds: number[] }> | null } {
  const store = refs.map((x) => x.row);
  const payloads = refs.map((x): [EncodedTexts, number] => [(requests[x.r] as CommitRequest).payloads, x.e]);
  if (store.length === 0) return { stored: store, pending: null };
  const col = <T>(f: (x: CommitRow) => T) => store.map(f);
  const values = [
    int4Array(col((x) => x.sourceId)),
    textArray(col((x) => x.messageId)),
    textArray(col((x) => x.type)),
    textArray(col((x) => x.name)),
    int8Array(col((x) => x.timestampMs)),
    int8Array(col((x) => x.receivedAtMs)),
    encodedTextArray(payloads),
  ];
  const columns = 'source_id, message_id, type, name, ts, received_at, payload';
  const input = `unnest($1::int[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::bigint[], $7::text[])`;
  // The ids are drawn first (a small CTE, materialized once: nextval is volatile) so that the
  // payloads are not materialized too, and the pending row can name the events. One pending row
  // per commit, not per event: its cost (an array of ids, compressed) is noise beside the events.
  const inserted = c.query<{ pending: number; ids: string }>(
    `WITH ids AS (SELECT nextval('events_id_seq') AS id, n FROM generate_series(1, $8::int) AS n),
     ev AS (
       INSERT INTO events (id, ${columns})
       SELECT i.id, u.source_id, u.message_id, u.type, u.name, u.ts, u.received_at, u.payload
       FROM ${input} WITH ORDINALITY AS u(source_id, message_id, type, name, ts, received_at, payload, n)
       JOIN ids i ON i.n = u.n
     ),
     agg AS (SELECT array_agg(id ORDER BY n) AS ids FROM ids),
     pending AS (
       INSERT INTO identity_pending (received_at, event_ids) SELECT $9, ids FROM agg RETURNING id
     )
     SELECT (SELECT id FROM pending) AS pending, (SELECT ids::text FROM agg) AS ids`,
    [...values, store.length, Math.min(...col((x) => x.receivedAtMs))],
  );
  tail(inserted);
  const pending = inserted.then((r) => ({ id: r.rows[0]?.pending as number, eventIds: parseIds(r.rows[0]?.ids) }));
  pending.catch(() => undefined);
  return { stored: store, pending };
}
