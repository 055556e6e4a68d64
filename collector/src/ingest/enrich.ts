import { type JsonObject, uuidv7, type WireEvent } from '@kimlik/core';
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
  /** Batch-level context; the event's own keys win. */
  context?: JsonObject | undefined;
  futureToleranceMs: number;
  identity: IdentityConfig;
}

export const WARNINGS = {
  TIMESTAMP_CLAMPED: 'timestamp_in_future_clamped',
  MESSAGE_ID_ASSIGNED: 'message_id_assigned_by_server',
} as const;

/**
 * Adds the server-side fields to a validated event (mutating it), as Segment sets them: receivedAt, originalTimestamp, and a timestamp
 * corrected for the device's clock: receivedAt - (sentAt - originalTimestamp).
 */
export function enrichEvent(event: WireEvent, ctx: EnrichContext): { stored: Record<string, unknown>; row: EventRow } {
  let warnings: string[] | null = null;
  let messageId = event.messageId;
  if (!messageId) {
    messageId = uuidv7(ctx.receivedAtMs);
    warnings = [WARNINGS.MESSAGE_ID_ASSIGNED];
  }
  const original = event.timestamp ?? (event as { originalTimestamp?: string }).originalTimestamp;
  const sentAt = event.sentAt ?? ctx.sentAt;
  let ts: number;
  if (original !== undefined && sentAt !== undefined) {
    const sentAtMs = event.sentAt === undefined && ctx.sentAtMs !== undefined ? ctx.sentAtMs : Date.parse(sentAt);
    ts = ctx.receivedAtMs - (sentAtMs - Date.parse(original));
  } else if (original !== undefined) {
    ts = Date.parse(original);
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
  if (warnings) stored.warnings = warnings;
  const name =
    event.type === 'track' ? event.event : event.type === 'page' || event.type === 'screen' ? event.name : undefined;
  return {
    stored,
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
