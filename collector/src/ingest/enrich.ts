import { type JsonObject, parseTimestamp, uuidv7, type WireEvent } from '@kimlik/core';
import { eventIdentity } from '../identity/event-identity.js';
import type { IdentityConfig } from '../identity/identifiers.js';
import type { EventRow } from '../store/store.js';
import { dedupHash } from './hash.js';

export interface EnrichContext {
  sourceId: number;
  receivedAtMs: number;
  /** The same instant as ISO text, formatted once per request. */
  receivedAtIso: string;
  /** Batch-level sentAt, used when the event has none, and its parse (done once per request). */
  sentAt?: string | undefined;
  sentAtMs?: number | undefined;
  /** Batch-level context and integrations; the event's own keys win. */
  context?: JsonObject | undefined;
  integrations?: JsonObject | undefined;
  /** The batch carried a sentAt that is not a timestamp: events without their own are flagged. */
  sentAtInvalid?: boolean;
  /** The event's own sentAt was not a timestamp and was dropped: the event is flagged. */
  ownSentAtInvalid?: boolean;
  futureToleranceMs: number;
  identity: IdentityConfig;
}

export const WARNINGS = {
  TIMESTAMP_CLAMPED: 'timestamp_in_future_clamped',
  MESSAGE_ID_ASSIGNED: 'message_id_assigned_by_server',
  BATCH_SENT_AT_INVALID: 'batch_sent_at_invalid_ignored',
  SENT_AT_INVALID: 'sent_at_invalid_ignored',
} as const;

/** What the server added to an event (`Enriched.added`), so its size as sent can be told apart. */
export const ADDED = { MESSAGE_ID: 1, TIMESTAMP: 2, ORIGINAL_TIMESTAMP: 4, SENT_AT: 8 } as const;

export interface Enriched {
  stored: Record<string, unknown>;
  row: EventRow;
  /** ADDED flags. */
  added: number;
  /** The client's own `timestamp`, which the server replaced with the corrected one. */
  clientTimestamp: string | undefined;
}

/**
 * Adds the server-side fields to a validated event (mutating it), as Segment sets them: receivedAt, originalTimestamp, and a timestamp
 * corrected for the device's clock: receivedAt - (sentAt - originalTimestamp).
 */
export function enrichEvent(event: WireEvent, ctx: EnrichContext): Enriched {
  let warnings: string[] | null = null;
  let added = 0;
  let messageId = event.messageId;
  if (!messageId) {
    messageId = uuidv7(ctx.receivedAtMs);
    warnings = [WARNINGS.MESSAGE_ID_ASSIGNED];
    added |= ADDED.MESSAGE_ID;
  }
  const clientTimestamp = event.timestamp;
  const clientOriginal = (event as { originalTimestamp?: string }).originalTimestamp;
  if (clientTimestamp === undefined) added |= ADDED.TIMESTAMP;
  const original = clientTimestamp ?? clientOriginal;
  if (original !== undefined && clientOriginal === undefined) added |= ADDED.ORIGINAL_TIMESTAMP;
  if (event.sentAt === undefined && ctx.sentAt !== undefined) added |= ADDED.SENT_AT;
  if (ctx.ownSentAtInvalid) warnings = [...(warnings ?? []), WARNINGS.SENT_AT_INVALID];
  else if (event.sentAt === undefined && ctx.sentAtInvalid)
    warnings = [...(warnings ?? []), WARNINGS.BATCH_SENT_AT_INVALID];
  const sentAt = event.sentAt ?? ctx.sentAt;
  // Both were validated (parseTimestamp is what the validator accepts), so neither is null here.
  const originalMs = original === undefined ? null : (parseTimestamp(original) as number);
  let ts: number;
  if (originalMs !== null && sentAt !== undefined) {
    const sentAtMs =
      event.sentAt === undefined && ctx.sentAtMs !== undefined ? ctx.sentAtMs : (parseTimestamp(sentAt) as number);
    ts = ctx.receivedAtMs - (sentAtMs - originalMs);
  } else if (originalMs !== null) {
    ts = originalMs;
  } else {
    ts = ctx.receivedAtMs;
  }
  if (ts > ctx.receivedAtMs + ctx.futureToleranceMs) {
    ts = ctx.receivedAtMs;
    warnings = [...(warnings ?? []), WARNINGS.TIMESTAMP_CLAMPED];
  }
  const identity = eventIdentity(event, ts, messageId, ctx.identity);
  if (identity.warnings.length > 0) warnings = [...(warnings ?? []), ...identity.warnings];
  // The validator handed us a private copy: enriching it in place saves a copy per event.
  const stored = event as unknown as Record<string, unknown>;
  stored.messageId = messageId;
  stored.timestamp = ts === ctx.receivedAtMs ? ctx.receivedAtIso : new Date(ts).toISOString();
  if (original !== undefined) stored.originalTimestamp = original;
  if (sentAt !== undefined) stored.sentAt = sentAt;
  stored.receivedAt = ctx.receivedAtIso;
  if (ctx.context) stored.context = { ...ctx.context, ...(event.context ?? {}) };
  if (ctx.integrations) stored.integrations = { ...ctx.integrations, ...(event.integrations ?? {}) };
  if (warnings) stored.warnings = warnings;
  const name =
    event.type === 'track' ? event.event : event.type === 'page' || event.type === 'screen' ? event.name : undefined;
  return {
    stored,
    added,
    clientTimestamp,
    row: {
      sourceId: ctx.sourceId,
      dedupHash: dedupHash(ctx.sourceId, messageId),
      messageId,
      type: event.type,
      name: name ?? null,
      userId: event.userId ?? null,
      anonymousId: event.anonymousId ?? null,
      timestampMs: ts,
      receivedAtMs: ctx.receivedAtMs,
      payload: '',
      identAnonymousId: identity.anonymousId,
      identUserId: identity.userId,
      identityExtra: identity.extra,
    },
  };
}
