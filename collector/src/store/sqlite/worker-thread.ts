import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { errorText } from '../error-text.js';
import { StoreUnavailableError } from '../store.js';
import { workerUrl } from './worker-url.js';

/** What a store thread (writer-worker.ts, reader-worker.ts) answers a request with. */
export type ThreadReply =
  | { id: number; result: unknown }
  | { id: number; error: string; code?: string }
  /** The writer's outcomes reply: resolved whole. */
  | { id: number; outcomes: Uint8Array; refused?: [number, string, string][] };
/** Every thread answers `{close: true}` with `{closed: true}` once its connection is closed. */
export type ThreadMessage = ThreadReply | { closed: true } | Record<string, unknown>;

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
export type Unnumbered<T> = DistributiveOmit<T, 'id'>;

interface Waiter {
  resolve: (o: never) => void;
  reject: (e: Error) => void;
  count: number;
}

export interface StoreThreadOptions {
  /** The entry file beside this module, e.g. 'writer-worker.js'. */
  file: string;
  /** How errors name it: 'writer thread'. */
  name: string;
  /** What a request failed by the thread's death says first: 'commit failed'. */
  failure: string;
  workerData: unknown;
  /** Called as each thread (the first and every restart) starts. */
  onStart?: () => void;
  /** Messages that answer no request (commit notices…). */
  onNotice?: (msg: Record<string, unknown>) => void;
  /** What a request whose reply is an error rejects with; `count` is what it carried. */
  replyError: (reply: { error: string; code?: string }, count: number) => Error;
}

/**
 * One of the store's threads, answering requests by id over its port. If it dies (an I/O error it
 * cannot survive, a bug, a test's `crashForTest`), requests in flight fail with 503 and a new one
 * starts after a second: committed state is whole either way (every commit is one transaction).
 */
export class StoreThread<Req extends { id: number }> {
  private worker!: Worker;
  private restartTimer: NodeJS.Timeout | null = null;
  private readonly waiters = new Map<number, Waiter>();
  private nextRequestId = 1;
  private closing: Promise<void> | null = null;
  private onClosed: (() => void) | null = null;
  /** Why the thread stopped, until its restart; null while it runs. */
  error: Error | null = null;
  /** What the requests in flight carry (`request`'s count): the writer's events not yet committed. */
  inFlight = 0;

  constructor(private readonly options: StoreThreadOptions) {
    this.start();
  }

  private start(): void {
    this.restartTimer = null;
    const worker = new Worker(fileURLToPath(workerUrl(this.options.file)), { workerData: this.options.workerData });
    this.options.onStart?.();
    this.worker = worker;
    this.error = null;
    worker.on('message', (msg: ThreadMessage) => this.onMessage(msg));
    worker.on('error', (err) => this.failAll(err));
    worker.on('exit', (code) => {
      if (this.closing || this.worker !== worker) return;
      // After an 'error' event, that error says why (an exit code does not).
      this.failAll(this.error ?? new Error(`${this.options.name} exited with code ${code}`));
      this.restartTimer = setTimeout(() => this.start(), 1000);
      this.restartTimer.unref();
    });
  }

  /** Sends one request; resolves with its result (or the whole reply, when it has none). */
  request(req: Unnumbered<Req>, count = 0): Promise<unknown> {
    if (this.error || this.closing) {
      this.inFlight -= count;
      return Promise.reject(
        new StoreUnavailableError(this.closing ? 'the store is closing' : `the ${this.options.name} has stopped`, {
          cause: this.error,
        }),
      );
    }
    const id = this.nextRequestId++;
    return new Promise((resolve, reject) => {
      this.waiters.set(id, { resolve: resolve as (o: never) => void, reject, count });
      this.worker.postMessage({ ...req, id });
    });
  }

  /** A message that needs no answer; dropped while the thread is down (a new one starts afresh). */
  post(msg: Record<string, unknown>): void {
    if (!this.error && !this.closing) this.worker.postMessage(msg);
  }

  private onMessage(msg: ThreadMessage): void {
    if ('closed' in msg) {
      this.onClosed?.();
      return;
    }
    if (!('id' in msg) || typeof msg.id !== 'number') {
      this.options.onNotice?.(msg as Record<string, unknown>);
      return;
    }
    const reply = msg as ThreadReply;
    const waiter = this.waiters.get(reply.id);
    if (!waiter) return;
    this.waiters.delete(reply.id);
    this.inFlight -= waiter.count;
    if ('error' in reply) waiter.reject(this.options.replyError(reply, waiter.count));
    else waiter.resolve(('result' in reply ? reply.result : reply) as never);
  }

  private failAll(err: Error): void {
    this.error = err;
    for (const [id, w] of this.waiters) {
      this.waiters.delete(id);
      this.inFlight -= w.count;
      w.reject(new StoreUnavailableError(`${this.options.failure}: ${errorText(err)}`, { cause: err }));
    }
  }

  /** Fault injection for tests: stops the thread as a crash would. */
  async crashForTest(): Promise<void> {
    await this.worker.terminate();
  }

  /**
   * Refuses requests from now on; once `before` settles, the thread closes its connection (after
   * answering what it was sent: replies come in order) and exits.
   */
  close(before: Promise<unknown> = Promise.resolve()): Promise<void> {
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.closing ??= before.then(
      () =>
        new Promise<void>((resolve) => {
          const done = () => resolve();
          if (this.error) {
            void this.worker.terminate().then(done, done);
            return;
          }
          this.onClosed = () => void this.worker.terminate().then(done, done);
          this.worker.postMessage({ close: true });
        }),
    );
    return this.closing;
  }
}

/** A thread's answer to a request that failed (the database's code kept, e.g. SQLITE_BUSY). */
export function errorReply(id: number, err: unknown): ThreadReply {
  const code = (err as { code?: unknown } | null)?.code;
  const reply: ThreadReply = { id, error: errorText(err) };
  if (typeof code === 'string') reply.code = code;
  return reply;
}
