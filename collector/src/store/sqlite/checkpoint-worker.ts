/**
 * The checkpoint thread: copies committed pages from the write-ahead log into the database file.
 * A checkpoint run by the writer (SQLite's autocheckpoint) stalls every commit behind it, and the
 * writer thread is the collector's serial bottleneck; a PASSIVE checkpoint from this connection
 * runs beside the writer and its readers without blocking either. The writer keeps a larger
 * autocheckpoint of its own (writer-worker.ts): it then only copies what is left, and lets the log
 * start over from its beginning, which a checkpoint running beside a busy writer cannot do.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { openDatabase } from './open.js';

export interface CheckpointInit {
  path: string;
  synchronous: 'NORMAL' | 'FULL';
  intervalMs: number;
}
export type CheckpointMessage = { closed: true } | { error: string };

const port = parentPort;
if (!port) throw new Error('checkpoint-worker must run as a worker thread');
const init = workerData as CheckpointInit;
// It reads log frames and writes database pages directly: almost no page cache needed.
const db = openDatabase(init.path, { synchronous: init.synchronous, cacheMiB: 1 });
let failed = false;

const timer = setInterval(() => {
  try {
    // [busy, frames in the log, frames copied]: busy only means another checkpoint was running.
    db.pragma('wal_checkpoint(PASSIVE)');
    failed = false;
  } catch (err) {
    // Reported once per failing stretch; the writer's own checkpoints cover meanwhile.
    if (!failed) port.postMessage({ error: (err as Error).message } satisfies CheckpointMessage);
    failed = true;
  }
}, init.intervalMs);

port.once('message', () => {
  clearInterval(timer);
  db.close();
  port.postMessage({ closed: true } satisfies CheckpointMessage);
  port.close();
});
