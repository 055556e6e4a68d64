import { realpathSync, statfsSync } from 'node:fs';
import { dirname } from 'node:path';
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
import type { ReaderInit, ReaderRequest } from './reader-worker.js';
import { readSetting, writeSetting } from './settings.js';
import { isEnvironmentError } from './sqlite-errors.js';
import { StoreThread, type Unnumbered } from './worker-thread.js';
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

export class SqliteStore implements Store {
  readonly kind = 'sqlite' as const;
  private readonly db: SqliteDatabase;
  private readonly writer: StoreThread<WriterRequest>;
  private readonly reader: StoreThread<ReaderRequest>;
  private readonly checkpointer: Checkpointer;
  private readonly path: string;
  private readonly fileId: string | null;
  private readonly identityEnabled: boolean;
  /** Write requests posted to the writer, and how many of them a completed sync covered. */
  private writesPosted = 0;
  private writesSynced = 0;
  private closing: Promise<void> | null = null;
  /**
   * The writer's last write failed (e.g. another process held the write lock past the busy
   * timeout): until a commit or `ping`'s write check succeeds, readiness must not claim a store
   * that cannot commit. Kept here so a probe costs no write while commits succeed.
   */
  private commitFailed = false;
  private readonly onCommit: ((info: CommitInfo) => void) | undefined;
  private readonly onIdentityError: ((message: string) => void) | undefined;
  private readonly onIdentityFailure: ((failure: IdentityFailure) => void) | undefined;

  private constructor(db: SqliteDatabase, options: SqliteStoreOptions, salt: string) {
    this.db = db;
    this.path = options.path;
    this.fileId = fileIdentity(options.path);
    this.identityEnabled = options.identity.enabled;
    const writerData: WriterInit = {
      path: options.path,
      fileId: this.fileId,
      synchronous: options.synchronous,
      salt,
      identity: options.identity,
    };
    this.writer = new StoreThread<WriterRequest>({
      file: 'writer-worker.js',
      name: 'writer thread',
      failure: 'commit failed',
      workerData: writerData,
      // A starting writer applies identity to events left unapplied: reads wait for that like for a write.
      onStart: () => this.writesPosted++,
      onNotice: (msg) => this.onWriterNotice(msg as WriterMessage),
      replyError: (reply, count) => {
        // Only writes carry events; an admin request's error (identity disabled…) is no failed commit.
        if (count > 0) this.commitFailed = true;
        return new StoreUnavailableError(`commit failed: ${reply.error}`);
      },
    });
    const readerData: ReaderInit = { path: options.path, fileId: this.fileId, synchronous: options.synchronous, salt };
    this.reader = new StoreThread<ReaderRequest>({
      file: 'reader-worker.js',
      name: 'reader thread',
      failure: 'read failed',
      workerData: readerData,
      replyError: (reply) =>
        isEnvironmentError(reply)
          ? new StoreUnavailableError(`read failed: ${reply.error}`)
          : Object.assign(new Error(reply.error), { code: reply.code }),
    });
    this.checkpointer = new Checkpointer(
      { path: options.path, synchronous: options.synchronous, intervalMs: CHECKPOINT_INTERVAL_MS },
      (message) => options.onCheckpointError?.(message),
    );
    this.onCommit = options.onCommit;
    this.onIdentityError = options.onIdentityError;
    this.onIdentityFailure = options.onIdentityFailure;
  }

  private onWriterNotice(msg: WriterMessage): void {
    if ('commit' in msg) {
      this.commitFailed = false;
      this.onCommit?.(msg.commit);
      return;
    }
    // A failed identity batch stays queued and is retried; a read waiting for it gets the error.
    if ('identityError' in msg) this.onIdentityError?.(msg.identityError);
    else if ('identityFailure' in msg) this.onIdentityFailure?.(msg.identityFailure);
  }

  /** Fault injection for tests: stops the writer thread as a crash would. */
  crashWriterForTest(): Promise<void> {
    return this.writer.crashForTest();
  }

  /** Fault injection for tests: stops the reader thread as a crash would. */
  crashReaderForTest(): Promise<void> {
    return this.reader.crashForTest();
  }

  /** Opens (creating if needed) the database file and applies migrations before anything else runs. */
  static open(options: SqliteStoreOptions): SqliteStore {
    // This thread's connection keeps the point reads ingest and authentication need (sources,
    // settings, erased ids); the rest read on the reader thread with a page cache of its own.
    const db = openDatabase(options.path, { synchronous: options.synchronous, cacheMiB: 8 });
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
    return this.writer.inFlight;
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
    this.writer.inFlight += rows.length;
    this.writesPosted++;
    return this.writer.request({ op: 'write', rows: flat }, rows.length).then((reply) => {
      const { outcomes, refused } = reply as { outcomes: Uint8Array; refused?: [number, string, string][] };
      const out: InsertOutcome[] = new Array(outcomes.length);
      for (let k = 0; k < outcomes.length; k++) {
        out[k] = outcomes[k] === DUPLICATE ? 'duplicate' : outcomes[k] === SUPPRESSED ? 'suppressed' : 'stored';
      }
      for (const [k, error, messageId] of refused ?? []) out[k] = { refused: error, messageId };
      return out;
    });
  }

  async listEvents(query: { limit: number; before?: string | undefined }): Promise<EventPage> {
    return (await this.reader.request({ op: 'listEvents', limit: query.limit, before: query.before })) as EventPage;
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
    if (!this.identityEnabled) return;
    // The port is FIFO: a sync posted now covers every write posted before it.
    const covers = this.writesPosted;
    if (this.writesSynced >= covers) return;
    await this.writer.request({ op: 'sync' });
    this.writesSynced = Math.max(this.writesSynced, covers);
  }

  /** A profile read, on the reader thread once the writer applied what was acknowledged (its next snapshot holds it). */
  private async readProfiles<T>(req: Unnumbered<ReaderRequest>): Promise<T> {
    await this.identityApplied();
    return (await this.reader.request(req)) as T;
  }

  findProfile(type: string, value: string): Promise<string | null> {
    return this.readProfiles({ op: 'findProfile', type, value });
  }

  getProfile(id: string): Promise<ProfileView | null> {
    return this.readProfiles({ op: 'getProfile', profileId: id });
  }

  profileEvents(id: string, query: { limit: number; before?: string | undefined }): Promise<ProfileEventsPage | null> {
    return this.readProfiles({ op: 'profileEvents', profileId: id, limit: query.limit, before: query.before });
  }

  profileHistory(id: string): Promise<ProfileHistory | null> {
    return this.readProfiles({ op: 'profileHistory', profileId: id });
  }

  setAsideEvents(): Promise<Record<string, unknown>[]> {
    return this.readProfiles({ op: 'setAside' });
  }

  listProfilesByTrait(
    name: string,
    values: readonly unknown[],
    query: { limit: number; cursor?: string | undefined },
  ): Promise<{ profiles: ProfileView[]; nextCursor: string | null }> {
    return this.readProfiles({ op: 'listByTrait', name, values, limit: query.limit, cursor: query.cursor });
  }

  async eraseProfile(id: string): Promise<{ profileId: string; events: number; identifiers: number } | null> {
    const erased = (await this.writer.request({ op: 'erase', profileId: id })) as {
      profileId: string;
      events: number;
      identifiers: number;
    } | null;
    // Posted after the commit: a stats read the reader runs before it may have remembered the erased events.
    // (A reader thread that died meanwhile starts with nothing remembered.)
    if (erased) this.reader.post({ forget: true });
    return erased;
  }

  async unmergeIdentifier(id: string, type: string, value: string): Promise<UnmergeOutcome> {
    return (await this.writer.request({ op: 'unmerge', profileId: id, type, value })) as UnmergeOutcome;
  }

  async wasErased(id: string): Promise<boolean> {
    return this.db.prepare('SELECT 1 FROM erased_profiles WHERE id = ?').pluck().get(id) !== undefined;
  }

  async stats(query: StatsQuery): Promise<StoreStats> {
    return (await this.reader.request({ op: 'stats', query })) as StoreStats;
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
    const gone = fileGone(this.path, this.fileId);
    if (gone) throw new StoreUnavailableError(gone);
  }

  async ping(): Promise<void> {
    this.assertFileThere();
    const stopped = this.writer.error;
    if (stopped) {
      throw new StoreUnavailableError(`the writer thread has stopped: ${errorText(stopped)}`, { cause: stopped });
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
    if (this.fileId !== null) {
      const fs = statfsSync(dirname(databaseFile(this.path)));
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
    // Set at once: writes from now on are refused. The checkpoint thread goes first, so the
    // writer's last checkpoint finds no other one running; the writer commits what it holds
    // before it answers `closed`.
    this.closing ??= this.writer
      .close(Promise.all([this.reader.close(), this.checkpointer.close()]))
      .then(() => void this.db.close());
    return this.closing;
  }
}
