/**
 * The writer thread: owns the only connection that writes. SQLite commits, identity replays and
 * WAL checkpoints run here, so the HTTP thread keeps parsing and validating while a commit is on
 * disk.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { ResolverCaps } from '../../identity/resolve.js';
import { EventWriter, ROW_WIDTH } from './event-writer.js';
import { eraseProfile, unmergeIdentifier } from './identity-admin.js';
import { IdentityWriter } from './identity-writer.js';
import { openDatabase } from './open.js';

export interface WriterInit {
  path: string;
  synchronous: 'NORMAL' | 'FULL';
  salt: string;
  identity: { enabled: boolean; caps: ResolverCaps; maxClusterIdentifiers: number };
}
export type WriterRequest =
  | { id: number; op: 'write'; rows: unknown[] }
  | { id: number; op: 'erase'; profileId: string }
  | { id: number; op: 'unmerge'; profileId: string; type: string; value: string };
export type WriterReply =
  | { id: number; outcomes: Uint8Array }
  | { id: number; result: unknown }
  | { id: number; error: string; code?: string };
export interface CommitInfo {
  events: number;
  requests: number;
  ms: number;
}
export type WriterMessage = WriterReply | { closed: true } | { commit: CommitInfo };

const port = parentPort;
if (!port) throw new Error('writer-worker must run as a worker thread');
const init = workerData as WriterInit;
const db = openDatabase(init.path, { synchronous: init.synchronous, cacheMiB: 128 });
// Fewer, larger checkpoints: each one fsyncs, and group commits already write in big steps.
db.pragma('wal_autocheckpoint = 10000');
const identity = init.identity.enabled
  ? new IdentityWriter(db, {
      salt: init.salt,
      caps: init.identity.caps,
      maxClusterIdentifiers: init.identity.maxClusterIdentifiers,
    })
  : null;
const writer = new EventWriter(db, identity);

let pending: Extract<WriterRequest, { op: 'write' }>[] = [];
let scheduled = false;

const fail = (id: number, err: unknown) => {
  const e = err as Error & { code?: string };
  const reply: WriterReply = { id, error: e.message };
  if (e.code !== undefined) reply.code = e.code;
  port?.postMessage(reply);
};

// Requests that arrive while a commit runs queue up in the message port; setImmediate lets them
// all land before the next commit, which then carries all of them (group commit).
function flush(): void {
  scheduled = false;
  const batch = pending;
  pending = [];
  if (batch.length === 0) return;
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
    for (const r of batch) fail(r.id, err);
  }
}

function admin(msg: Exclude<WriterRequest, { op: 'write' }>): void {
  // Admin changes run after every write that arrived before them.
  flush();
  try {
    if (!identity) throw new Error('identity resolution is disabled');
    const result = db
      .transaction(() =>
        msg.op === 'erase'
          ? eraseProfile(db, identity, init.salt, msg.profileId)
          : unmergeIdentifier(db, identity, msg.profileId, msg.type, msg.value),
      )
      .immediate();
    port?.postMessage({ id: msg.id, result } satisfies WriterReply);
  } catch (err) {
    identity?.resetCaches();
    fail(msg.id, err);
  }
}

port.on('message', (msg: WriterRequest | { close: true }) => {
  if ('close' in msg) {
    flush();
    writer.merge();
    db.close();
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
