import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { CheckpointInit, CheckpointMessage } from './checkpoint-worker.js';
import { workerUrl } from './worker-url.js';

/** Runs the checkpoint thread (checkpoint-worker.ts) beside the writer. */
export class Checkpointer {
  private readonly worker: Worker;
  private readonly exited: Promise<void>;

  constructor(init: CheckpointInit, onError: (message: string) => void) {
    this.worker = new Worker(fileURLToPath(workerUrl('checkpoint-worker.js')), { workerData: init });
    this.worker.on('message', (msg: CheckpointMessage) => {
      if ('error' in msg) onError(msg.error);
    });
    // Not restarted: the writer's own checkpoints keep the log bounded without it.
    this.worker.on('error', (err) => onError(err.message));
    this.exited = new Promise((resolve) => this.worker.once('exit', () => resolve()));
    // Never what keeps a process alive; `close()` is how the store stops it.
    this.worker.unref();
  }

  /** Resolves once its connection is closed and the thread has exited. */
  close(): Promise<void> {
    this.worker.postMessage({ close: true });
    return this.exited;
  }
}
