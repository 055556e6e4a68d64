/**
 * Wire protocol: the Segment tracking-API shape, so Segment-compatible clients work unchanged.
 * https://segment.com/docs/connections/spec/common/
 */

export const EVENT_TYPES = ['track', 'identify', 'page', 'screen', 'group', 'alias'] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/**
 * Properties or traits as the SDKs' calls take them: any object, one typed by an app's
 * `interface` too (which has no index signature, so `JsonObject` refuses it; Segment and PostHog
 * type them the same way). What is sent is its JSON: a Date becomes its ISO string, undefined is
 * dropped. Primitives (`track('Viewed', 'sku-1')`) are still refused.
 */
// biome-ignore lint/suspicious/noExplicitAny: only an index signature of `any` accepts an interface
export type Properties = Record<string, any>;

/** One event as a client sends it. */
export interface WireEvent {
  type: EventType;
  messageId?: string;
  timestamp?: string;
  sentAt?: string;
  anonymousId?: string;
  userId?: string;
  /** track: the event name. */
  event?: string;
  /** page / screen: the page or screen name. */
  name?: string;
  properties?: JsonObject;
  traits?: JsonObject;
  context?: JsonObject;
  integrations?: JsonObject;
  /** alias: the identity being aliased to `userId`. */
  previousId?: string;
  /** group: the account or organisation. */
  groupId?: string;
  /** sendBeacon cannot set headers, so the write key may ride in the body. */
  writeKey?: string;
}

/** `POST /v1/batch` body. */
export interface BatchRequest {
  batch: WireEvent[];
  sentAt?: string;
  context?: JsonObject;
  writeKey?: string;
}

/** One event the collector refused, by its position in the batch. */
export interface Rejection {
  index: number;
  messageId: string | null;
  code: string;
  reason: string;
}

/** The collector's answer to an accepted (possibly partly) batch. */
export interface BatchResponse {
  success: true;
  accepted: number;
  /** Events already stored earlier with the same messageId (counted in `accepted`). */
  duplicates?: number;
  rejected: Rejection[];
}

/** The collector's answer to a request it refused as a whole. */
export interface ErrorResponse {
  error: { code: string; message: string; rejected?: Rejection[]; [key: string]: unknown };
}

/** An event after validation and server-side enrichment, as stored. */
export interface StoredEvent extends Omit<WireEvent, 'writeKey' | 'sentAt' | 'timestamp'> {
  messageId: string;
  /** Corrected for client clock skew: receivedAt - (sentAt - originalTimestamp). */
  timestamp: string;
  originalTimestamp?: string;
  sentAt?: string;
  receivedAt: string;
}
