/**
 * The collector's admin API as it appears on the wire (JSON answers), shared by the collector
 * that sends these shapes and the dashboard that reads them. Types only: nothing here is bundled.
 */

/** `GET /v1/profiles/{id}` and the lookups. */
export interface ProfileView {
  id: string;
  identifiers: { type: string; value: string; periods?: { from: string | null; to: string | null }[] }[];
  traits: Record<string, unknown>;
  firstSeen: string | null;
  lastSeen: string | null;
  eventCount: number;
  /** Set when the requested id was merged into this (surviving) profile. */
  mergedFrom?: string;
}

/** One identity change in a profile's history: a merge, a refused link, an unmerge… */
export interface IdentityEntry {
  kind: string;
  timestamp: string;
  messageId: string | null;
  [detail: string]: unknown;
}

/** `GET /v1/profiles/{id}/history`. */
export interface ProfileHistory {
  profileId: string;
  traits: { trait: string; old: unknown; new: unknown; timestamp: string; messageId: string }[];
  identity: IdentityEntry[];
}

/** One item of the live event stream (`GET /v1/stream/events`). */
export type LiveItem =
  | {
      kind: 'event';
      sourceId: number;
      /** stored now, or a duplicate of a stored messageId, or dropped as an erased person's. */
      outcome: 'stored' | 'duplicate' | 'suppressed';
      event: Record<string, unknown>;
    }
  | {
      kind: 'rejected';
      sourceId: number;
      receivedAt: string;
      index: number;
      messageId: string | null;
      code: string;
      reason: string;
    };

/** `GET /v1/stats`. */
export interface StatsView {
  range: 'hour' | 'day';
  bucketMs: number;
  buckets: { start: string; events: number }[];
  topEvents: { type: string; name: string | null; events: number }[];
  totals: { events: number; profiles: number; merges: number; rejected: number };
  rejected: { since: string; byCode: Record<string, number> };
}

/** An entry of `GET /v1/sources`. */
export interface SourceView {
  id: number;
  name: string;
  writeKey: string;
  /** Browser origins allowed to send; empty means any. */
  allowedOrigins: string[];
}
