/** Limits as Segment documents them; the collector makes each configurable. */
export interface Limits {
  /** Largest single event, serialized. */
  maxEventBytes: number;
  /** Largest request body after decompression. */
  maxBodyBytes: number;
  /** Most events in one `/v1/batch`. */
  maxBatchEvents: number;
  /** `messageId` must be shorter than this. */
  maxMessageIdLength: number;
  /** Deepest nesting of objects/arrays inside an event. */
  maxDepth: number;
  /** Most keys in one object / items in one array inside an event. */
  maxCollectionSize: number;
  /** Longest string field used as an identifier (userId, anonymousId, groupId, previousId). */
  maxIdLength: number;
}

/** Segment's per-event limit; a constant of its own so a browser bundle needs no other limit. */
export const MAX_EVENT_BYTES = 32 * 1024;
/**
 * Highest `maxMessageIdLength` a collector takes: 511 characters of 4 bytes fit a PostgreSQL index
 * entry (2 704 bytes).
 */
export const MAX_MESSAGE_ID_LENGTH = 512;
/** Most events in one `/v1/batch`; a constant of its own like `MAX_EVENT_BYTES`. */
export const MAX_BATCH_EVENTS = 2500;

export const DEFAULT_LIMITS: Readonly<Limits> = Object.freeze({
  maxEventBytes: MAX_EVENT_BYTES,
  maxBodyBytes: 500 * 1024,
  maxBatchEvents: MAX_BATCH_EVENTS,
  maxMessageIdLength: 100,
  maxDepth: 32,
  maxCollectionSize: 10_000,
  maxIdLength: 1024,
});
