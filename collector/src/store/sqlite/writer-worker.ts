/**
 * The writer thread: owns the only connection that writes. SQLite commits, identity batches and
 * WAL checkpoints run here, so the HTTP thread keeps parsing and validating while a commit is on
 * disk.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { IdentityConfig } from '../../identity/identifiers.js';
import type { ResolverCaps } from '../../identity/resolve.js';
import { errorText } from '../error-text.js';
import { RetryBackoff } from '../retry-backoff.js';
import type { IdentityFailure } from '../store.js';
import { EventWriter, REFUSED, ROW_WIDTH } from './event-writer.js';
import { eraseProfile, unmergeIdentifier } from './identity-admin.js';
import { IdentityApplier } from './identity-applier.js';
import { IdentityWriter } from './identity-writer.js';
import { fileGone, openDatabase } from './open.js';
import { isEnvironmentError } from './sqlite-errors.js';
import { errorReply, type ThreadReply } from './worker-thread.js';

export interface WriterInit {
  path: string;
  /** The file the store opened (`fileIdentity`); null for `:memory:`. */
  fileId: string | null;
  synchronous: 'NORMAL' | 'FULL';
  salt: string;
  identity: { enabled: boolean; caps: ResolverCaps; maxClusterIdentifiers: number; config: IdentityConfig };
}
export type WriterRequest =
  | { id: number; op: 'write'; rows: unknown[] }
  | { id: number; op: 'erase'; profileId: string }
  | { id: number; op: 'unmerge'; profileId: string; type: string; value: string }
  /** Answers once every event acknowledged before it has its identity applied (reads wait for it). */
  | { id: number; op: 'sync' };
/** `refused` in an outcomes reply: [event index, the database's error, messageId] of the events it refused alone (REFUSED in `outcomes`). */
export type WriterReply = ThreadReply;
export interface CommitInfo {
  events: number;
  requests: number;
  ms: number;
}
export type WriterMessage =
  | WriterReply
  | { closed: true }
  | { commit: CommitInfo }
  | { identityError: string }
  | { identityFailure: IdentityFailure };

const port = parentPort;
if (!port) throw new Error('writer-worker must run as a worker thread');
const init = workerData as WriterInit;
/**
 * Opens the store's file (not a new one where it was: see `fileGone`) and applies the identity of
 * events left unapplied. A failure is rethrown as a plain Error: better-sqlite3's SqliteError
 * reached the store's thread as `{code}` alone, and clients read "commit failed: undefined".
 */
function start() {
  try {
    const db = openDatabase(init.path, { synchronous: init.synchronous, cacheMiB: 128, mustExist: true });
    const gone = fileGone(init.path, init.fileId);
    if (gone) throw new Error(gone);
    // The checkpoint thread (checkpoint-worker.ts) copies the log into the database file as it grows;
    // this one, 160 MB in, copies what it has not and lets the log start over from its beginning.
    // Alone (that thread failed), it still bounds the log.
    db.pragma('wal_autocheckpoint = 40000');
    const identity = init.identity.enabled
      ? new IdentityWriter(db, {
          salt: init.salt,
          caps: init.identity.caps,
          maxClusterIdentifiers: init.identity.maxClusterIdentifiers,
        })
      : null;
    const applier = identity
      ? new IdentityApplier(db, identity, init.identity.config, (failure) =>
          port?.postMessage({ identityFailure: failure }),
        )
      : null;
    return { db, identity, applier, writer: new EventWriter(db, applier) };
  } catch (err) {
    throw new Error(`the writer thread could not open the database: ${errorText(err)}`);
  }
}
const { db, identity, applier, writer } = start();

/** An identity batch starts at this many unapplied events… */
const IDENTITY_BATCH_EVENTS = 20_000;
/** …or once the writer has had no writes for this long… */
const IDENTITY_IDLE_MS = 10;
/** …or once the oldest unapplied event waited this long, whichever comes first. */
const IDENTITY_MAX_LAG_MS = 1_000;
/** Past this many unapplied events, writes wait for identity (memory stays bounded if it keeps failing). */
const IDENTITY_MAX_PENDING = 10 * IDENTITY_BATCH_EVENTS;
let identityTimer: NodeJS.Timeout | null = null;
let lastWriteAt = 0;
/** After a failed identity batch, the next try waits (the disk may be full, the file locked). */
const identityBackoff = new RetryBackoff();
let identityError: Error | null = null;

let pending: Extract<WriterRequest, { op: 'write' }>[] = [];
let scheduled = false;

const fail = (id: number, err: unknown) => port?.postMessage(errorReply(id, err));

// Requests that arrive while a commit runs queue up in the message port; setImmediate lets them
// all land before the next commit, which then carries all of them (group commit).
function flush(): void {
  scheduled = false;
  const batch = pending;
  pending = [];
  if (batch.length === 0) return;
  if (applier && applier.size >= IDENTITY_MAX_PENDING) {
    const err = (identityBackoff.waitMs() > 0 && identityError) || applyIdentity();
    if (err) {
      // Identity cannot keep up (or keeps failing): refuse writes (503, clients retry) rather than queue without bound.
      for (const r of batch) fail(r.id, err);
      return;
    }
  }
  // A file removed or replaced under the collector is still written to, and lost with it. A stat
  // per group commit (microseconds, beside a commit's milliseconds), so none is acknowledged after.
  const gone = fileGone(init.path, init.fileId);
  if (gone) {
    for (const r of batch) fail(r.id, new Error(gone));
    return;
  }
  try {
    const started = performance.now();
    const outcomes = writer.write(batch.map((r) => r.rows));
    const events = batch.reduce((n, r) => n + r.rows.length / ROW_WIDTH, 0);
    port?.postMessage({ commit: { events, requests: batch.length, ms: performance.now() - started } });
    for (let i = 0; i < batch.length; i++) {
      port?.postMessage({
        id: (batch[i] as WriterRequest).id,
        outcomes: outcomes[i] as Uint8Array,
      } satisfies WriterReply);
    }
  } catch (err) {
    // The transaction rolled back; the writer's in-memory state only changes after a commit.
    if (isEnvironmentError(err)) for (const r of batch) fail(r.id, err);
    else for (const r of batch) writeAlone(r);
  }
  lastWriteAt = performance.now();
  if (applier && applier.size >= IDENTITY_BATCH_EVENTS && identityBackoff.waitMs() === 0) applyIdentity();
  else scheduleIdentity();
  scheduleMergeStep();
}

/**
 * A commit failed for a reason in its data, not the database (sqlite-errors.ts): it would fail
 * again on every retry, and take every request sharing it down each time. Each request is
 * committed alone; one that still fails, event by event, and an event failing alone is refused
 * (rejected with the database's reason) while the rest is stored.
 */
function writeAlone(r: Extract<WriterRequest, { op: 'write' }>): void {
  try {
    const [outcomes] = writer.write([r.rows]);
    port?.postMessage({ id: r.id, outcomes: outcomes as Uint8Array } satisfies WriterReply);
    return;
  } catch (err) {
    if (isEnvironmentError(err)) {
      fail(r.id, err);
      return;
    }
  }
  const outcomes = new Uint8Array(r.rows.length / ROW_WIDTH);
  const refused: [number, string, string][] = [];
  for (let e = 0; e < outcomes.length; e++) {
    try {
      const [one] = writer.write([r.rows.slice(e * ROW_WIDTH, (e + 1) * ROW_WIDTH)]);
      outcomes[e] = (one as Uint8Array)[0] as number;
    } catch (err) {
      // Events before it may be committed: the client's retry finds them stored (dedup).
      if (isEnvironmentError(err)) {
        fail(r.id, err);
        return;
      }
      outcomes[e] = REFUSED;
      refused.push([e, (err as Error).message, r.rows[e * ROW_WIDTH + 2] as string]);
    }
  }
  port?.postMessage({ id: r.id, outcomes, refused } satisfies WriterReply);
}

let mergeScheduled = false;
/** A dedup merge runs in steps, each after the writes that queued meanwhile (setImmediate). */
function scheduleMergeStep(): void {
  if (mergeScheduled || !writer.mergePending) return;
  mergeScheduled = true;
  setImmediate(() => {
    mergeScheduled = false;
    try {
      writer.mergeStep();
    } catch {
      // Rolled back; the keys stay in memory (dedup holds) and the step is tried again.
    }
    scheduleMergeStep();
  });
}

/** Applies the queued identity batch; a failure is reported, stays queued for the next try and is returned. */
function applyIdentity(): Error | null {
  if (identityTimer) clearTimeout(identityTimer);
  identityTimer = null;
  if (!applier) return null;
  try {
    applier.apply();
    identityApplied();
    return null;
  } catch (err) {
    identityBackoff.failed();
    identityError = err as Error;
    port?.postMessage({ identityError: identityError.message || String(err) });
    scheduleIdentity();
    return identityError;
  }
}

function identityApplied(): void {
  identityBackoff.succeeded();
  identityError = null;
}

function scheduleIdentity(): void {
  if (!applier || applier.size === 0 || identityTimer) return;
  identityTimer = setTimeout(
    () => {
      identityTimer = null;
      const now = performance.now();
      if (identityBackoff.waitMs(now) > 0) scheduleIdentity();
      else if (now - lastWriteAt >= IDENTITY_IDLE_MS || applier.lagMs(now) >= IDENTITY_MAX_LAG_MS) applyIdentity();
      else scheduleIdentity();
    },
    Math.max(IDENTITY_IDLE_MS, identityBackoff.waitMs()),
  );
}

const pause = new Int32Array(new SharedArrayBuffer(4));
/**
 * Copies the whole log into the database file and empties it. While the checkpoint thread is
 * copying, SQLite answers busy at once, without waiting: tried again for up to a second. (A reader
 * on an older snapshot is waited for by SQLite itself, up to the busy timeout.)
 */
function truncateLog(): void {
  const until = performance.now() + 1_000;
  for (;;) {
    const [result] = db.pragma('wal_checkpoint(TRUNCATE)') as { busy: number }[];
    if (!result?.busy || performance.now() >= until) return;
    Atomics.wait(pause, 0, 0, 10);
  }
}

function admin(msg: Exclude<WriterRequest, { op: 'write' }>): void {
  // Admin changes and reads run after every write that arrived before them, with its identity applied.
  flush();
  try {
    if (applier) {
      // A read asks now: tried at once, whatever the pause; it gets the error if it fails.
      try {
        applier.apply();
      } catch (err) {
        identityBackoff.failed();
        identityError = err as Error;
        throw err;
      }
      identityApplied();
    }
    if (msg.op === 'sync') {
      port?.postMessage({ id: msg.id, result: null } satisfies WriterReply);
      return;
    }
    if (!identity) throw new Error('identity resolution is disabled');
    let result: unknown;
    if (msg.op === 'erase') {
      // Freed space is zeroed as it is freed (secure_delete, see open.ts).
      const erased = db
        .transaction(() => eraseProfile(db, identity, init.salt, init.identity.config, msg.profileId))
        .immediate();
      if (erased) {
        // Only after the commit: events of a person whose erase rolled back must still be stored.
        identity.suppress(erased.suppressed, erased.periods);
        // Nor in the write-ahead log's older page images: copied back and the log emptied (best
        // effort: a reader on an older snapshot defers it to the next checkpoint).
        truncateLog();
      }
      result = erased?.result ?? null;
    } else {
      result = db.transaction(() => unmergeIdentifier(db, identity, msg.profileId, msg.type, msg.value)).immediate();
    }
    port?.postMessage({ id: msg.id, result } satisfies WriterReply);
  } catch (err) {
    identity?.resetCaches();
    fail(msg.id, err);
  }
}

port.on('message', (msg: WriterRequest | { close: true }) => {
  if ('close' in msg) {
    flush();
    try {
      applyIdentity();
    } finally {
      writer.merge();
      db.close();
    }
    port.postMessage({ closed: true });
    return;
  }
  if (msg.op !== 'write') {
    admin(msg);
    return;
  }
  pending.push(msg);
  if (!scheduled) {
    scheduled = true;
    setImmediate(flush);
  }
});
