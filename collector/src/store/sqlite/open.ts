import { mkdirSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { refuseNewerSchema } from '../migrations/newer-schema.js';
import { SQLITE_MIGRATIONS } from '../migrations/sqlite.js';

export type SqliteDatabase = Database.Database;

export interface OpenOptions {
  readonly?: boolean;
  /** NORMAL survives a process crash (WAL); FULL also survives power loss, at a throughput cost. */
  synchronous: 'NORMAL' | 'FULL';
  /** Page cache in MiB. */
  cacheMiB?: number;
  /**
   * Opens the file the store opened at start, or fails: a thread (re)started after the data
   * directory was removed must not create an empty database there.
   */
  mustExist?: boolean;
}

export function openDatabase(path: string, options: OpenOptions): SqliteDatabase {
  if (!options.readonly && !options.mustExist && path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path, { readonly: options.readonly ?? false, fileMustExist: options.mustExist ?? false });
  // Another connection (the writer thread, an admin write) may hold the write lock briefly.
  db.pragma('busy_timeout = 5000');
  if (!options.readonly) {
    db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${options.synchronous}`);
    // Deleted content is overwritten, not left in free space: an erased person (GDPR) must not be
    // readable from the file. Zeroing as space is freed also covers stale copies a page keeps
    // after its cells move; measured: no difference in the writer's CPU per event.
    db.pragma('secure_delete = ON');
  }
  db.pragma(`cache_size = -${(options.cacheMiB ?? 64) * 1024}`);
  db.pragma('temp_store = MEMORY');
  return db;
}

/** Applies pending migrations; each in its own transaction, recorded in schema_migrations. */
export function migrate(db: SqliteDatabase): string[] {
  db.exec(
    'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)',
  );
  const applied = new Set(
    (db.prepare('SELECT version FROM schema_migrations').all() as { version: number }[]).map((r) => r.version),
  );
  refuseNewerSchema(applied, SQLITE_MIGRATIONS, `The SQLite database ${db.name}`);
  const done: string[] = [];
  for (const m of SQLITE_MIGRATIONS) {
    if (applied.has(m.version)) continue;
    db.transaction(() => {
      db.exec(m.sql);
      db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(
        m.version,
        m.name,
        Date.now(),
      );
    }).immediate();
    done.push(`${m.version} ${m.name}`);
  }
  return done;
}

/**
 * The database file's identity (device and inode), or null when the path names no file (or is
 * `:memory:`). An open file that was removed, or replaced by another at its path, is still written
 * to, and what is written is gone with it: compared with the identity recorded at open.
 */
export function fileIdentity(path: string): string | null {
  if (path === ':memory:') return null;
  try {
    const s = statSync(path, { bigint: true });
    return `${s.dev}:${s.ino}`;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/** Why the store refuses to commit once its file is no longer at its path (undefined while it is). */
export function fileGone(path: string, opened: string | null): string | undefined {
  if (opened === null || fileIdentity(path) === opened) return undefined;
  return `the database file ${path} was removed or replaced while the collector ran (events written now would be lost with it): restore it, or restart the collector`;
}
