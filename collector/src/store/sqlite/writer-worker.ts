/**
 * The writer thread: owns the only connection that writes events. SQLite commits and WAL
 * checkpoints run here, so the HTTP thread keeps parsing and validating while a commit is on disk.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { EventWriter, ROW_WIDTH } from './event-writer.js';
import { openDatabase } from './open.js';

export interface WriterInit {
  path: string;
  synchronous: 'NORMAL' | 'FULL';
}
export interface WriteRequest {
  id: number;
  rows: unknown[];
}
export type WriterReply = { id: number; outcomes: Uint8Array } | { id: number; error: string; code?: string };
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
const writer = new EventWriter(db);

let pending: WriteRequest[] = [];
let scheduled = false;

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
      const o = outcomes[i] as Uint8Array;
      port?.postMessage({ id: (batch[i] as WriteRequest).id, outcomes: o } satisfies WriterReply);
    }
  } catch (err) {
    const e = err as Error & { code?: string };
    for (const r of batch) {
      const reply: WriterReply = { id: r.id, error: e.message };
      if (e.code !== undefined) reply.code = e.code;
      port?.postMessage(reply);
    }
  }
}

port.on('message', (msg: WriteRequest | { close: true }) => {
  if ('close' in msg) {
    flush();
    writer.merge();
    db.close();
    port.postMessage({ closed: true });
    return;
  }
  pending.push(msg);
  if (!scheduled) {
    scheduled = true;
    setImmediate(flush);
  }
});
