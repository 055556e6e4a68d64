import { type EventType, KimlikError } from '@kimlik/core';

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
}

/** Per event: stored now, or already stored earlier with the same (source, messageId). */
export type InsertOutcome = 'stored' | 'duplicate';

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

export interface Source {
  id: number;
  name: string;
  writeKey: string;
  /** Browser origins allowed to send; empty means any. */
  allowedOrigins: string[];
}

/**
 * The storage port. Everything that speaks SQL lives behind it; SQLite and PostgreSQL fill it.
 * `insertEvents` resolves only once the events are committed: that is what a 200 promises.
 */
export interface Store {
  readonly kind: 'sqlite' | 'postgres';
  /** Events handed to `insertEvents` and not yet committed: the ingest queue's depth. */
  readonly pendingEvents: number;
  insertEvents(rows: EventRow[]): Promise<InsertOutcome[]>;
  listEvents(query: { limit: number; before?: string | undefined }): Promise<EventPage>;
  listSources(): Promise<Source[]>;
  /** Creates or updates a source; the first source (id 1) is the default. */
  upsertSource(source: Omit<Source, 'id'> & { id?: number }): Promise<Source>;
  getSetting(key: string): Promise<string | null>;
  setSetting(key: string, value: string): Promise<void>;
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
