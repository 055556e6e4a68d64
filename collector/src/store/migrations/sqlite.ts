/**
 * Versioned SQLite migrations, applied in order inside one transaction each. Never edit a shipped
 * migration: add the next version.
 */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const SQLITE_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'events, dedup, sources, settings',
    sql: `
      CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
      CREATE TABLE sources (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        write_key TEXT NOT NULL UNIQUE,
        allowed_origins TEXT NOT NULL DEFAULT '[]',
        created_at INTEGER NOT NULL
      );
      -- Receipt order is the rowid: appends only, whatever the clients' messageIds look like.
      CREATE TABLE events (
        id INTEGER PRIMARY KEY,
        source_id INTEGER NOT NULL,
        message_id TEXT NOT NULL,
        type TEXT NOT NULL,
        name TEXT,
        user_id TEXT,
        anonymous_id TEXT,
        ts INTEGER NOT NULL,
        received_at INTEGER NOT NULL,
        payload TEXT NOT NULL
      );
      -- Dedup keyed by a 53-bit integer hash of (source, messageId): 16-byte entries instead of
      -- ~50-byte text keys. Filled in sorted merges (see EventWriter), never per commit.
      CREATE TABLE dedup (hash INTEGER PRIMARY KEY, event_id INTEGER NOT NULL);
      -- The rare true hash collision is resolved exactly here.
      CREATE TABLE dedup_overflow (
        source_id INTEGER NOT NULL,
        message_id TEXT NOT NULL,
        event_id INTEGER NOT NULL,
        PRIMARY KEY (source_id, message_id)
      ) WITHOUT ROWID;
    `,
  },
];
