import { type EventType, KimlikError, type ProfileHistory, type ProfileView } from '@kimlik/core';

/** Wire shapes of the admin API, defined in core (the dashboard reads them too). */
export type { ProfileHistory, ProfileView };

/** One validated, enriched event ready to store. `payload` is the full stored JSON. */
export interface EventRow {
  sourceId: number;
  /** 53-bit hash of sourceId and messageId: the dedup key (collisions are resolved exactly). */
  dedupHash: number;
  messageId: string;
  type: EventType;
  /** track event name, page/screen name. */
  name: string | null;
  userId: string | null;
  anonymousId: string | null;
  /** Corrected event time, ms since epoch. */
  timestampMs: number;
  receivedAtMs: number;
  payload: string;
  /** Normalized identifiers for identity resolution (null when absent or blocked). */
  identAnonymousId: string | null;
  identUserId: string | null;
  /** Trait identifiers, alias previousId and trait writes (see identity/event-identity.ts). */
  identityExtra: string | null;
}

/**
 * Per event: stored now, already stored earlier with the same (source, messageId), or dropped
 * because it carries an identifier of an erased profile.
 */
/**
 * A stored event whose identity failed alone, every time it was applied: set aside (each store's
 * identity applier) so that identity goes on; the event stays stored, attributed to no profile.
 */
export interface IdentityFailure {
  eventId: number;
  messageId: string;
  error: string;
}

/**
 * What became of one event. `refused`: its write fails every time, alone, for a reason in the
 * event (not the database being down): it is not stored and the rest of its request is.
 */
export type InsertOutcome = 'stored' | 'duplicate' | 'suppressed' | { refused: string; messageId: string };

export interface StoredEventRecord {
  id: string;
  sourceId: number;
  event: Record<string, unknown>;
}

export interface EventPage {
  events: StoredEventRecord[];
  /** Pass as `before` to get the next (older) page; null at the end. */
  nextCursor: string | null;
}

/** A `sources` row as both stores read it (origins are stored as JSON text). */
export interface SourceRow {
  id: number;
  name: string;
  write_key: string;
  allowed_origins: string;
}

export const sourceFromRow = (r: SourceRow): Source => ({
  id: r.id,
  name: r.name,
  writeKey: r.write_key,
  allowedOrigins: JSON.parse(r.allowed_origins) as string[],
});

export interface Source {
  id: number;
  name: string;
  writeKey: string;
  /** Browser origins allowed to send; empty means any. */
  allowedOrigins: string[];
}

export interface ProfileEventsPage {
  profileId: string;
  events: Record<string, unknown>[];
  nextCursor: string | null;
}

/** What the dashboard's overview asks for: a time window cut into equal buckets (by receipt time). */
export interface StatsQuery {
  /** Start of the window, ms since epoch (inclusive). */
  sinceMs: number;
  /** End of the window, ms since epoch (exclusive). */
  untilMs: number;
  /** Bucket width in ms; the window holds ceil((untilMs - sinceMs) / bucketMs) buckets. */
  bucketMs: number;
  /** How many event names to list in `topEvents`. */
  top: number;
}

export interface StoreStats {
  /** Events received per bucket, oldest first, every bucket present (zero when empty). */
  buckets: { startMs: number; events: number }[];
  /** The most frequent (type, name) pairs in the window; name is the track event or page/screen name. */
  topEvents: { type: string; name: string | null; events: number }[];
  /**
   * Events received in the window; profiles that exist now; `merge` entries of the identity
   * history (each link that joined two groups of identifiers), each counted once.
   */
  totals: { events: number; profiles: number; merges: number };
}

export type UnmergeOutcome =
  | { profileId: string; detachedProfileId: string | null; detachedLinks: number }
  /** `alone`: the identifier is the profile's only one, there is nothing to detach it from. */
  | { error: 'profile' | 'identifier' | 'alone' };

/**
 * The storage port. Everything that speaks SQL lives behind it; SQLite and PostgreSQL fill it.
 * `insertEvents` resolves only once the events are committed: that is what a 200 promises.
 */
export interface Store {
  readonly kind: 'sqlite' | 'postgres';
  /** Events handed to `insertEvents` and not yet committed: the ingest queue's depth. */
  readonly pendingEvents: number;
  /**
   * Takes what it needs from `rows` before it returns, so the caller may let them go at once
   * (a payload held until the commit would survive young-generation collections).
   */
  insertEvents(rows: readonly EventRow[]): Promise<InsertOutcome[]>;
  listEvents(query: { limit: number; before?: string | undefined }): Promise<EventPage>;
  listSources(): Promise<Source[]>;
  /** Creates or updates a source; the first source (id 1) is the default. */
  upsertSource(source: Omit<Source, 'id'> & { id?: number }): Promise<Source>;
  findProfile(type: string, value: string): Promise<string | null>;
  getProfile(id: string): Promise<ProfileView | null>;
  profileEvents(id: string, query: { limit: number; before?: string | undefined }): Promise<ProfileEventsPage | null>;
  profileHistory(id: string): Promise<ProfileHistory | null>;
  /** Stored events whose identity failed alone (set aside, attributed to no profile), oldest first. */
  setAsideEvents(): Promise<Record<string, unknown>[]>;
  /** Profiles whose trait `name` currently equals one of `values` (JSON equality). */
  listProfilesByTrait(
    name: string,
    values: readonly unknown[],
    query: { limit: number; cursor?: string | undefined },
  ): Promise<{ profiles: ProfileView[]; nextCursor: string | null }>;
  /** GDPR erasure; null when no such profile. */
  eraseProfile(id: string): Promise<{ profileId: string; events: number; identifiers: number } | null>;
  unmergeIdentifier(id: string, type: string, value: string): Promise<UnmergeOutcome>;
  /** The id belonged to a profile that was erased. */
  wasErased(id: string): Promise<boolean>;
  /**
   * Counts for the dashboard's overview. Approximate is fine (receipt order may differ from
   * receipt time by a commit's worth of events); it must stay cheap on a large table.
   */
  stats(query: StatsQuery): Promise<StoreStats>;
  getSetting(key: string): Promise<string | null>;
  setSetting(key: string, value: string): Promise<void>;
  /**
   * Stores `value` under `key` unless a value is stored already, and answers the stored one: the
   * first writer wins, also among collector processes starting together on one database.
   */
  claimSetting(key: string, value: string): Promise<string>;
  /** Throws when the database cannot be reached or written. */
  ping(): Promise<void>;
  /** Commits what is pending, then closes. */
  close(): Promise<void>;
}

/** The store could not commit; clients should retry (HTTP 503). */
export class StoreUnavailableError extends KimlikError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('KIMLIK_STORE_UNAVAILABLE', message, options);
  }
}
