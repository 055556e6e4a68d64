import type { JsonObject, Properties } from '@kimlik/core';

/**
 * Segment-shaped messages. A server has no implicit user, so every message names one:
 * `userId` or `anonymousId` (or both).
 */
export type Identity =
  | { userId: string | number; anonymousId?: string }
  | { userId?: string | number; anonymousId: string };

interface Common {
  /**
   * When it happened; defaults to now. A Date (from any realm), an ISO-8601 string, epoch
   * milliseconds, anything with `toISOString()` (dayjs, moment) or with `toISO()` (Luxon).
   */
  timestamp?: Date | string | number | { toISOString(): string } | { toISO(): string | null };
  /**
   * Extra context merged into the event's `context` (ip, userAgent, …): any object, as properties
   * (`{ ip: req.ip }` where `req.ip` may be undefined); sent as its JSON, undefined dropped.
   */
  context?: Properties;
  integrations?: JsonObject;
  /** Set only to deduplicate an event you may send twice; otherwise a UUIDv7 is generated. */
  messageId?: string;
}

export type TrackMessage = Identity & Common & { event: string; properties?: Properties };
export type IdentifyMessage = Identity & Common & { traits?: Properties };
export type PageMessage = Identity & Common & { name?: string; category?: string; properties?: Properties };
export type ScreenMessage = PageMessage;
export type GroupMessage = Identity & Common & { groupId: string | number; traits?: Properties };
export type AliasMessage = Common & { userId: string | number; previousId: string | number };
