import { resolve } from 'node:path';
import type { ResolvedCollectorOptions } from '../options.js';
import { isPostgresUrl } from './postgres/connection.js';
import { PostgresStore } from './postgres/postgres-store.js';
import { rateLimited } from './retry-backoff.js';
import { SqliteStore } from './sqlite/sqlite-store.js';
import type { IdentityFailure, Store } from './store.js';

export interface CommitInfo {
  events: number;
  requests: number;
  ms: number;
}

/** What the store reports as it runs (metrics and logs). */
export interface StoreEvents {
  /** After each ingest commit. */
  onCommit: (info: CommitInfo) => void;
  /** An identity batch failed; it stays queued and is retried (the first failure, then one per 10 s with a count). */
  onIdentityError: (message: string) => void;
  /** An event's identity failed alone and was set aside: the event stays stored, unattributed. */
  onIdentityFailure: (failure: IdentityFailure) => void;
  /** SQLite's checkpoint thread failed; the writer's own checkpoints keep the log bounded. */
  onCheckpointError?: (message: string) => void;
  /** PostgreSQL cannot be reached at start yet: the collector waits for it. */
  onWaiting?: (message: string) => void;
  /** The schema migrations this start applied (logged: an upgrade changes the database). */
  onMigrated?: (applied: string[]) => void;
}

/**
 * `database` as the banner shows it: a SQLite file by its absolute path, a PostgreSQL URL with
 * its password masked (stdout ends up in logs, and a URL is no file path).
 */
export function databaseLabel(database: string): string {
  if (!isPostgresUrl(database)) return resolve(database);
  const url = new URL(database);
  if (url.password !== '') url.password = '***';
  // libpq also takes the password as a parameter.
  if (url.searchParams.has('password')) url.searchParams.set('password', '***');
  return url.toString();
}

/** Opens the store `options.database` names: a `postgres://` URL, or else a SQLite file path. */
export async function openStore(
  options: ResolvedCollectorOptions,
  {
    onCommit,
    onIdentityError: reportIdentityError,
    onIdentityFailure,
    onCheckpointError,
    onWaiting,
    onMigrated,
  }: StoreEvents,
): Promise<Store> {
  // Retried with backoff while the database fails: one line per interval, not one per retry.
  const onIdentityError = rateLimited(reportIdentityError);
  const identity = {
    enabled: options.identity,
    caps: { maxIdentifiers: options.maxProfileIdentifiers, maxMerges: options.maxProfileMerges },
    maxClusterIdentifiers: options.maxClusterIdentifiers,
    config: options.identityConfig,
  };
  if (isPostgresUrl(options.database)) {
    return PostgresStore.open({
      url: options.database,
      poolMax: options.postgresPoolMax,
      identity,
      onCommit,
      onIdentityError,
      onIdentityFailure,
      onWaiting,
      onMigrated,
    });
  }
  try {
    return SqliteStore.open({
      path: options.database,
      synchronous: options.sqliteSynchronous,
      identity,
      onCommit,
      onIdentityError,
      onIdentityFailure,
      onCheckpointError,
      onMigrated,
    });
  } catch (err) {
    // "unable to open database file" names neither the file nor the setting.
    if ((err as { code?: unknown }).code !== 'SQLITE_CANTOPEN') throw err;
    throw new Error(
      `cannot open the SQLite database ${options.database} (KIMLIK_DATABASE): ${(err as Error).message}`,
      { cause: err },
    );
  }
}
