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
  {
    version: 2,
    name: 'identity graph, profiles, traits, suppression',
    sql: `
      -- Every identifier value once; first_ts/first_msg decide which profile is older. Looked up
      -- by a 53-bit salted hash (compact index entries; the writer keeps values unique).
      CREATE TABLE identifiers (
        id INTEGER PRIMARY KEY,
        key_hash INTEGER NOT NULL,
        type TEXT NOT NULL,
        value TEXT NOT NULL,
        first_ts INTEGER NOT NULL,
        first_msg TEXT NOT NULL
      );
      CREATE INDEX identifiers_key_hash ON identifiers (key_hash);
      -- Every link between two identifiers, at its earliest (event time, messageId) occurrence.
      CREATE TABLE links (
        a INTEGER NOT NULL,
        b INTEGER NOT NULL,
        ts INTEGER NOT NULL,
        message_id TEXT NOT NULL,
        detached INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (a, b)
      ) WITHOUT ROWID;
      CREATE INDEX links_b ON links (b);
      -- From from_ts on, the identifier belongs to the profile founded by founder_id (anonymous IDs
      -- can change owner). A profile is named by its founder; its id is derived from the founder's
      -- key_hash, so a merged-away id still finds its founder and, through it, the survivor.
      CREATE TABLE memberships (
        identifier_id INTEGER NOT NULL,
        from_ts INTEGER NOT NULL,
        founder_id INTEGER NOT NULL,
        PRIMARY KEY (identifier_id, from_ts)
      ) WITHOUT ROWID;
      CREATE INDEX memberships_founder ON memberships (founder_id);
      CREATE TABLE identity_log (
        id INTEGER PRIMARY KEY,
        identifier_id INTEGER NOT NULL,
        kind TEXT NOT NULL,
        ts INTEGER NOT NULL,
        message_id TEXT,
        detail TEXT NOT NULL
      );
      CREATE INDEX identity_log_identifier ON identity_log (identifier_id);
      CREATE TABLE trait_writes (
        id INTEGER PRIMARY KEY,
        identifier_id INTEGER NOT NULL,
        ts INTEGER NOT NULL,
        message_id TEXT NOT NULL,
        key TEXT NOT NULL,
        value TEXT,
        set_once INTEGER NOT NULL DEFAULT 0
      );
      CREATE INDEX trait_writes_identifier ON trait_writes (identifier_id);
      CREATE INDEX trait_writes_key_value ON trait_writes (key, value);
      -- Admin actions (unmerges) survive the replays that rewrite identity_log.
      CREATE TABLE admin_log (
        id INTEGER PRIMARY KEY,
        identifier_id INTEGER NOT NULL,
        kind TEXT NOT NULL,
        at INTEGER NOT NULL,
        detail TEXT NOT NULL
      );
      CREATE INDEX admin_log_identifier ON admin_log (identifier_id);
      -- Identifiers of erased profiles, hashed: later events carrying them are dropped.
      CREATE TABLE suppressed (hash TEXT PRIMARY KEY) WITHOUT ROWID;
      -- Ids of erased profiles (salted hashes, no personal data): an export answers "erased".
      CREATE TABLE erased_profiles (id TEXT PRIMARY KEY, at INTEGER NOT NULL) WITHOUT ROWID;
      ALTER TABLE events ADD COLUMN anon_ident INTEGER;
      ALTER TABLE events ADD COLUMN user_ident INTEGER;
      -- Identifier only (no ts): smaller entries, fewer pages touched per commit; a timeline sorts
      -- its profile's events after the lookup.
      CREATE INDEX events_anon_ident ON events (anon_ident) WHERE anon_ident IS NOT NULL;
      CREATE INDEX events_user_ident ON events (user_ident) WHERE user_ident IS NOT NULL;
    `,
  },
  {
    version: 3,
    name: 'event attribution in its own table',
    sql: `
      -- Which identifier an event is attributed to: its userId, or else its anonymous ID (ids are
      -- unique across types, so one column serves both). Filled in sorted runs by the identity
      -- batches, which touch each page once, instead of updating event rows and two random indexes.
      CREATE TABLE event_owner (
        owner INTEGER NOT NULL,
        ts INTEGER NOT NULL,
        event_id INTEGER NOT NULL,
        PRIMARY KEY (owner, ts, event_id)
      ) WITHOUT ROWID;
      INSERT INTO event_owner (owner, ts, event_id)
        SELECT coalesce(user_ident, anon_ident), ts, id FROM events
        WHERE coalesce(user_ident, anon_ident) IS NOT NULL;
      DROP INDEX events_anon_ident;
      DROP INDEX events_user_ident;
      ALTER TABLE events DROP COLUMN anon_ident;
      ALTER TABLE events DROP COLUMN user_ident;
    `,
  },
  {
    version: 4,
    name: 'identifiers known only as an alias previousId',
    // An alias's previousId may be a userId or a device's anonymous ID, and which one must not
    // depend on the order events arrive in. Both identifiers are recorded, marked alias_only until
    // another event carries the value in its own field; the resolver then keeps the userId when
    // one is real and the device otherwise (resolve.ts). Existing identifiers count as real.
    sql: 'ALTER TABLE identifiers ADD COLUMN alias_only INTEGER NOT NULL DEFAULT 0;',
  },
  {
    version: 5,
    name: 'identify calls naming a device and a userId',
    // A device identified as u1, then u2, then u1 again belongs to u1 again from that third call:
    // links keep only a pair's earliest sighting, so each identify is kept here (shared-device.ts).
    // Identify calls applied before this version are not read back: a device shared before the
    // upgrade keeps the attribution it had until it is identified again.
    sql: `
      CREATE TABLE device_identifies (
        device INTEGER NOT NULL,
        user_ident INTEGER NOT NULL,
        ts INTEGER NOT NULL,
        message_id TEXT NOT NULL,
        PRIMARY KEY (device, ts, message_id, user_ident)
      ) WITHOUT ROWID;
      CREATE INDEX device_identifies_user ON device_identifies (user_ident);
    `,
  },
  {
    version: 6,
    name: 'events whose identity could not be applied',
    // An event that makes its identity batch fail every time it is applied is set aside here (it
    // stays stored) so that identity, and with it ingest, goes on (sqlite/identity-applier.ts).
    sql: `
      CREATE TABLE identity_failures (
        event_id INTEGER PRIMARY KEY,
        message_id TEXT NOT NULL,
        error TEXT NOT NULL,
        failed_at INTEGER NOT NULL
      );
    `,
  },
  {
    version: 7,
    name: 'the identity watermark from the start',
    // Events after `identity_watermark` get their identity applied when a collector with identity
    // on starts. The first such collector used to create it, at the newest event, taking a database
    // without one for one written by a version that applied identity inside each commit: a
    // database that began with identity off never had its events resolved. It exists from the
    // start now: 0 for a new database, or one whose events no identity was ever applied to.
    sql: `
      INSERT OR IGNORE INTO settings (key, value)
        SELECT 'identity_watermark', CASE WHEN EXISTS (SELECT 1 FROM identifiers) THEN coalesce(max(id), 0) ELSE 0 END
        FROM events;
    `,
  },
  {
    version: 8,
    name: 'hub identifiers',
    // An identifier linked to more identifiers than a cluster may hold (a backend's fixed
    // anonymousId, an address every account uses) is a profile of its own and no replay walks
    // through it (resolve.ts, hubReason). Few identifiers are hubs: the partial index lists them.
    sql: `
      ALTER TABLE identifiers ADD COLUMN hub INTEGER NOT NULL DEFAULT 0;
      CREATE INDEX identifiers_hub ON identifiers (id) WHERE hub = 1;
    `,
  },
  {
    version: 9,
    name: "erased people's periods on shared devices",
    // The device stays with its other user; events carrying only it, timed in the erased person's
    // periods, are dropped (identity/erased-periods.ts). Keyed by the device's suppression hash.
    sql: `
      CREATE TABLE suppressed_periods (
        hash TEXT NOT NULL,
        from_ts INTEGER NOT NULL,
        to_ts INTEGER NOT NULL,
        PRIMARY KEY (hash, from_ts)
      ) WITHOUT ROWID;
    `,
  },
];
