import { realpathSync, statfsSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { newProfileSalt, PROFILE_SALT_SETTING } from '../../identity/profile-id.js';
import { errorText } from '../error-text.js';
import type {
  EventPage,
  EventRow,
  InsertOutcome,
  ProfileEventsPage,
  ProfileHistory,
  ProfileView,
  Source,
  StatsQuery,
  Store,
  StoreStats,
  UnmergeOutcome,
} from '../store.js';
import { type IdentityFailure, type SourceRow, StoreUnavailableError, sourceFromRow } from '../store.js';
import { Checkpointer } from './checkpointer.js';
import { DUPLICATE, ROW_WIDTH, SUPPRESSED } from './event-writer.js';
import { fileGone, fileIdentity, migrate, openDatabase, type SqliteDatabase } from './open.js';
import { ProfileReader } from './profile-reader.js';
import { readSetting, writeSetting } from './settings.js';
import { StatsReader } from './stats-reader.js';
import { workerUrl } from './worker-url.js';
import type { CommitInfo, WriterInit, WriterMessage, WriterRequest } from './writer-worker.js';

/** How long a readiness probe waits for SQLite's write lock (see `ping`). */
const PING_BUSY_TIMEOUT_MS = 250;
/** The row `ping`'s write check writes (the time of the last check). */
const WRITE_CHECK_SETTING = 'readiness_write_check';
/**
 * After a failed commit, ready again only with this much free on the database's filesystem: a
 * failed commit leaves the log file grown, and a one-row check fits there while a request's
 * commit (up to 512 kB of events, twice that in log pages) still fails for a full disk.
 */
const MIN_FREE_BYTES = 2 * 1024 * 1024;

/**
 * The database file itself: its path may be a symlink into another filesystem (SQLite follows it,
 * and writes its log beside the target), and the symlink's full disk kept /readyz at 503 for good.
 */
function databaseFile(path: string): string {
  try {
    return realpathSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return path;
    throw err;
  }
}
/**
 * How often the checkpoint thread copies the write-ahead log into the database file. Pages the
 * writer changes again within it are copied once (random-keyed index pages are, many times).
 */
const CHECKPOINT_INTERVAL_MS = 2_000;

export interface SqliteStoreOptions {
  path: string;
  synchronous: 'NORMAL' | 'FULL';
  identity: WriterInit['identity'];
  /** Called after each group commit (for metrics). */
  onCommit?: (info: CommitInfo) => void;
  /** Called when an identity batch fails (it stays queued and is retried). */
  onIdentityError?: (message: string) => void;
  /** Called when the checkpoint thread fails (the writer's own checkpoints cover). */
  onCheckpointError?: (message: string) => void;
  /** Called when an event's identity fails alone and is set aside (the event stays stored). */
  onIdentityFailure?: (failure: IdentityFailure) => void;
  /** Called with the schema migrations this start applied ("9 erased people's periods…"), if any. */
  onMigrated?: (applied: string[]) => void;
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

interface Waiter {
  resolve: (o: never) => void;
  reject: (e: Error) => void;
  count: number;
}

export class SqliteStore implements Store {
  readonly kind = 'sqlite' as const;
  private readonly db: SqliteDatabase;
  private worker!: Worker;
  private readonly checkpointer: Checkpointer;
  private readonly workerData: WriterInit;
  private restartTimer: NodeJS.Timeout | null = null;
  private readonly waiters = new Map<number, Waiter>();
  private nextRequestId = 1;
  private pending = 0;
  /** Write requests posted to the writer, and how many of them a completed sync covered. */
  private writesPosted = 0;
  private writesSynced = 0;
  private closing: Promise<void> | null = null;
  private workerError: Error | null = null;
  /**
   * The writer's last write failed (e.g. another process held the write lock past the busy
   * timeout): until a commit or `ping`'s write check succeeds, readiness must not claim a store
   * that cannot commit. Kept here so a probe costs no write while commits succeed.
   */
  private commitFailed = false;
  private onWriterClosed: (() => void) | null = null;
  private readonly onCommit: ((info: CommitInfo) => void) | undefined;
  private readonly onIdentityError: ((message: string) => void) | undefined;
  private readonly onIdentityFailure: ((failure: IdentityFailure) => void) | undefined;

  private readonly profiles: ProfileReader;
  private readonly statsReader: StatsReader;

  private constructor(db: SqliteDatabase, options: SqliteStoreOptions, salt: string) {
    this.db = db;
    this.profiles = new ProfileReader(db, salt);
    this.statsReader = new StatsReader(db);
    this.onCommit = options.onCommit;
    this.onIdentityError = options.onIdentityError;
    this.onIdentityFailure = options.onIdentityFailure;
    this.workerData = {
      path: options.path,
      fileId: fileIdentity(options.path),
      synchronous: options.synchronous,
      salt,
      identity: options.identity,
    };
    this.startWorker();
    this.checkpointer = new Checkpointer(
      { path: options.path, synchronous: options.synchronous, intervalMs: CHECKPOINT_INTERVAL_MS },
      (message) => options.onCheckpointError?.(message),
    );
  }

  /**
   * The writer thread; if it dies (an I/O error it cannot survive, a bug), requests in flight fail
   * with 503 and a new writer starts after a second. Committed state is whole either way:
   * every commit is one SQLite transaction.
   */
  private startWorker(): void {
    this.restartTimer = null;
    const worker = new Worker(fileURLToPath(workerUrl('writer-worker.js')), { workerData: this.workerData });
    // A starting writer applies identity to events left unapplied: reads wait for that like for a write.
    this.writesPosted++;
    this.worker = worker;
    this.workerError = null;
    worker.on('message', (msg: WriterMessage) => this.onReply(msg));
    worker.on('error', (err) => this.failAll(err));
    worker.on('exit', (code) => {
      if (this.closing || this.worker !== worker) return;
      // After an 'error' event, that error says why (an exit code does not).
      this.failAll(this.workerError ?? new Error(`writer thread exited with code ${code}`));
      this.restartTimer = setTimeout(() => this.startWorker(), 1000);
      this.restartTimer.unref();
    });
  }

  /** Fault injection for tests: stops the writer thread as a crash would. */
  async crashWriterForTest(): Promise<void> {
    await this.worker.terminate();
  }

  /** Opens (creating if needed) the database file and applies migrations before anything else runs. */
  static open(options: SqliteStoreOptions): SqliteStore {
    const db = openDatabase(options.path, { synchronous: options.synchronous });
    const applied = migrate(db);
    if (applied.length > 0) options.onMigrated?.(applied);
    let salt = readSetting(db, PROFILE_SALT_SETTING);
    if (!salt) {
      salt = newProfileSalt();
      writeSetting(db, PROFILE_SALT_SETTING, salt);
    }
    return new SqliteStore(db, options, salt);
  }

  get pendingEvents(): number {
    return this.pending;
  }

  // Not async: nothing here holds the rows (their payloads) while the commit runs (see ingest-service.ts).
  insertEvents(rows: readonly EventRow[]): Promise<InsertOutcome[]> {
    const flat: unknown[] = new Array(rows.length * ROW_WIDTH);
    let i = 0;
    for (const r of rows) {
      flat[i++] = r.sourceId;
      flat[i++] = r.dedupHash;
      flat[i++] = r.messageId;
      flat[i++] = r.type;
      flat[i++] = r.name;
      flat[i++] = r.timestampMs;
      flat[i++] = r.receivedAtMs;
      flat[i++] = r.payload;
      flat[i++] = r.identAnonymousId;
      flat[i++] = r.identUserId;
      flat[i++] = r.identityExtra;
    }
    this.pending += rows.length;
    this.writesPosted++;
    return this.request({ op: 'write', rows: flat }, rows.length).then((reply) => {
      const { outcomes, refused } = reply as { outcomes: Uint8Array; refused?: [number, string, string][] };
      const out: InsertOutcome[] = new Array(outcomes.length);
      for (let k = 0; k < outcomes.length; k++) {
        out[k] = outcomes[k] === DUPLICATE ? 'duplicate' : outcomes[k] === SUPPRESSED ? 'suppressed' : 'stored';
      }
      for (const [k, error, messageId] of refused ?? []) out[k] = { refused: error, messageId };
      return out;
    });
  }

  /** Sends one operation to the writer thread; resolves with its outcomes or result. */
  private request(req: DistributiveOmit<WriterRequest, 'id'>, count = 0): Promise<unknown> {
    if (this.workerError || this.closing) {
      this.pending -= count;
      return Promise.reject(
        new StoreUnavailableError(this.closing ? 'the store is closing' : 'the writer thread has stopped', {
          cause: this.workerError,
        }),
      );
    }
    const id = this.nextRequestId++;
    return new Promise((resolve, reject) => {
      this.waiters.set(id, { resolve: resolve as (o: never) => void, reject, count });
      this.worker.postMessage({ ...req, id } as WriterRequest);
    });
  }

  private onReply(msg: WriterMessage): void {
    if ('closed' in msg) {
      this.onWriterClosed?.();
      return;
    }
    if ('commit' in msg) {
      this.commitFailed = false;
      this.onCommit?.(msg.commit);
      return;
    }
    // A failed identity batch stays queued and is retried; a read waiting for it gets the error.
    if ('identityError' in msg) {
      this.onIdentityError?.(msg.identityError);
      return;
    }
    if ('identityFailure' in msg) {
      this.onIdentityFailure?.(msg.identityFailure);
      return;
    }
    const waiter = this.waiters.get(msg.id);
    if (!waiter) return;
    this.waiters.delete(msg.id);
    this.pending -= waiter.count;
    if ('error' in msg) {
      // Only writes carry events; an admin request's error (identity disabled…) is no failed commit.
      if (waiter.count > 0) this.commitFailed = true;
      waiter.reject(new StoreUnavailableError(`commit failed: ${msg.error}`));
      return;
    }
    waiter.resolve(('outcomes' in msg ? msg : msg.result) as never);
  }

  private failAll(err: Error): void {
    this.workerError = err;
    for (const [id, w] of this.waiters) {
      this.waiters.delete(id);
      this.pending -= w.count;
      w.reject(new StoreUnavailableError(`commit failed: ${errorText(err)}`, { cause: err }));
    }
  }

  async listEvents(query: { limit: number; before?: string | undefined }): Promise<EventPage> {
    const before = query.before === undefined ? Number.MAX_SAFE_INTEGER : Number(query.before);
    const rows = this.db
      .prepare('SELECT id, source_id, payload FROM events WHERE id < ? ORDER BY id DESC LIMIT ?')
      .all(before, query.limit + 1) as { id: number; source_id: number; payload: string }[];
    const page = rows.slice(0, query.limit);
    return {
      events: page.map((r) => ({ id: String(r.id), sourceId: r.source_id, event: JSON.parse(r.payload) })),
      nextCursor: rows.length > query.limit && page.length > 0 ? String(page[page.length - 1]?.id) : null,
    };
  }

  async listSources(): Promise<Source[]> {
    const rows = this.db
      .prepare('SELECT id, name, write_key, allowed_origins FROM sources ORDER BY id')
      .all() as SourceRow[];
    return rows.map(sourceFromRow);
  }

  async upsertSource(source: Omit<Source, 'id'> & { id?: number }): Promise<Source> {
    this.assertFileThere();
    const origins = JSON.stringify(source.allowedOrigins);
    if (source.id !== undefined) {
      this.db
        .prepare(
          `INSERT INTO sources (id, name, write_key, allowed_origins, created_at) VALUES (?, ?, ?, ?, ?)
           ON CONFLICT(id) DO UPDATE SET name = excluded.name, write_key = excluded.write_key,
             allowed_origins = excluded.allowed_origins`,
        )
        .run(source.id, source.name, source.writeKey, origins, Date.now());
      return { ...source, id: source.id };
    }
    const info = this.db
      .prepare('INSERT INTO sources (name, write_key, allowed_origins, created_at) VALUES (?, ?, ?, ?)')
      .run(source.name, source.writeKey, origins, Date.now());
    return { ...source, id: Number(info.lastInsertRowid) };
  }

  /**
   * Waits until every event acknowledged so far has its identity applied (the writer applies it in
   * batches after the commit), so a profile read after a 200 sees that event.
   */
  private async identityApplied(): Promise<void> {
    if (!this.workerData.identity.enabled) return;
    // The port is FIFO: a sync posted now covers every write posted before it.
    const covers = this.writesPosted;
    if (this.writesSynced >= covers) return;
    await this.request({ op: 'sync' });
    this.writesSynced = Math.max(this.writesSynced, covers);
  }

  async findProfile(type: string, value: string): Promise<string | null> {
    await this.identityApplied();
    return this.profiles.findByIdentifier(type, value);
  }

  async getProfile(id: string): Promise<ProfileView | null> {
    await this.identityApplied();
    return this.profiles.getProfile(id);
  }

  async profileEvents(
    id: string,
    query: { limit: number; before?: string | undefined },
  ): Promise<ProfileEventsPage | null> {
    await this.identityApplied();
    return this.profiles.events(id, query.limit, query.before);
  }

  async profileHistory(id: string): Promise<ProfileHistory | null> {
    await this.identityApplied();
    return this.profiles.history(id);
  }

  async setAsideEvents(): Promise<Record<string, unknown>[]> {
    await this.identityApplied();
    return this.profiles.setAside();
  }

  async listProfilesByTrait(
    name: string,
    values: readonly unknown[],
    query: { limit: number; cursor?: string | undefined },
  ) {
    await this.identityApplied();
    return this.profiles.listByTrait(name, values, query.limit, query.cursor);
  }

  async eraseProfile(id: string): Promise<{ profileId: string; events: number; identifiers: number } | null> {
    const erased = (await this.request({ op: 'erase', profileId: id })) as {
      profileId: string;
      events: number;
      identifiers: number;
    } | null;
    if (erased) this.statsReader.forget();
    return erased;
  }

  async unmergeIdentifier(id: string, type: string, value: string): Promise<UnmergeOutcome> {
    return (await this.request({ op: 'unmerge', profileId: id, type, value })) as UnmergeOutcome;
  }

  async wasErased(id: string): Promise<boolean> {
    return this.db.prepare('SELECT 1 FROM erased_profiles WHERE id = ?').pluck().get(id) !== undefined;
  }

  async stats(query: StatsQuery): Promise<StoreStats> {
    return this.statsReader.stats(query);
  }

  async getSetting(key: string): Promise<string | null> {
    return readSetting(this.db, key) ?? null;
  }

  async setSetting(key: string, value: string): Promise<void> {
    this.assertFileThere();
    writeSetting(this.db, key, value);
  }

  async claimSetting(key: string, value: string): Promise<string> {
    this.assertFileThere();
    this.db.prepare('INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT(key) DO NOTHING').run(key, value);
    return (await this.getSetting(key)) as string;
  }

  /**
   * Writes made on this thread's connection (sources, settings) check the file as the writer
   * thread's commits do: into a removed file they would be answered and lost with it.
   */
  private assertFileThere(): void {
    const gone = fileGone(this.workerData.path, this.workerData.fileId);
    if (gone) throw new StoreUnavailableError(gone);
  }

  async ping(): Promise<void> {
    this.assertFileThere();
    if (this.workerError) {
      throw new StoreUnavailableError(`the writer thread has stopped: ${errorText(this.workerError)}`, {
        cause: this.workerError,
      });
    }
    if (!this.commitFailed) {
      this.db.prepare('SELECT 1').get();
      return;
    }
    // Commits a real write: a check that took the write lock and rolled back wrote nothing, and
    // passed on a full disk or a failing device while every commit failed (in WAL mode a rolled
    // back transaction never reaches the file). One small row, only while commits fail. Waiting
    // briefly: this is the HTTP thread, which the busy timeout would stall. Not at once either:
    // right after the lock is freed the writer thread takes it for the identity batch it could
    // not apply meanwhile (milliseconds), and a probe that gave up then answered 503 for a
    // database that works.
    if (this.workerData.fileId !== null) {
      const fs = statfsSync(dirname(databaseFile(this.workerData.path)));
      const free = fs.bavail * fs.bsize;
      if (free < MIN_FREE_BYTES) {
        throw new StoreUnavailableError(
          `the last commit failed and the disk holding the database has ${free} bytes free (at least ${MIN_FREE_BYTES} needed)`,
        );
      }
    }
    const busyTimeoutMs = this.db.pragma('busy_timeout', { simple: true }) as number;
    this.db.pragma(`busy_timeout = ${PING_BUSY_TIMEOUT_MS}`);
    try {
      this.db.transaction(() => writeSetting(this.db, WRITE_CHECK_SETTING, String(Date.now()))).immediate();
    } catch (err) {
      throw new StoreUnavailableError(
        `the last commit failed and the database cannot be written: ${(err as Error).message}`,
        { cause: err },
      );
    } finally {
      this.db.pragma(`busy_timeout = ${busyTimeoutMs}`);
    }
    this.commitFailed = false;
  }

  close(): Promise<void> {
    if (this.restartTimer) clearTimeout(this.restartTimer);
    // Set at once: writes from now on are refused. The checkpoint thread goes first, so the
    // writer's last checkpoint finds no other one running.
    this.closing ??= this.checkpointer.close().then(
      () =>
        new Promise<void>((resolve) => {
          const done = () => {
            this.db.close();
            resolve();
          };
          if (this.workerError) {
            void this.worker.terminate().then(done, done);
            return;
          }
          // The writer commits what it holds before it answers `closed`; replies come in order.
          this.onWriterClosed = () => void this.worker.terminate().then(done, done);
          this.worker.postMessage({ close: true });
        }),
    );
    return this.closing;
  }
}
