import type { ResolvedCollectorOptions } from '../options.js';
import { isPostgresUrl } from './postgres/connection.js';
import { PostgresStore } from './postgres/postgres-store.js';
import { SqliteStore } from './sqlite/sqlite-store.js';
import type { Store } from './store.js';

export interface CommitInfo {
  events: number;
  requests: number;
  ms: number;
}

/** Opens the store `options.database` names: a `postgres://` URL, or else a SQLite file path. */
export async function openStore(
  options: ResolvedCollectorOptions,
  onCommit: (info: CommitInfo) => void,
  onIdentityError: (message: string) => void = () => undefined,
): Promise<Store> {
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
    });
  }
  return SqliteStore.open({
    path: options.database,
    synchronous: options.sqliteSynchronous,
    identity,
    onCommit,
    onIdentityError,
  });
}
