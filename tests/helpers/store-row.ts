import { eventIdentity } from '../../collector/src/identity/event-identity.js';
import type { IdentityConfig } from '../../collector/src/identity/identifiers.js';
import type { EventRow } from '../../collector/src/store/store.js';

/** An event as the ingest route hands it to a store (identity fields derived from the payload). */
export function storeRow(
  event: Record<string, unknown>,
  messageId: string,
  tsMs: number,
  config: IdentityConfig,
): EventRow {
  const payload: Record<string, unknown> = { ...event, messageId, timestamp: new Date(tsMs).toISOString() };
  const id = eventIdentity(payload as never, tsMs, messageId, config);
  return {
    sourceId: 1,
    dedupHash: 0,
    messageId,
    type: payload.type as EventRow['type'],
    name: (payload.event as string | undefined) ?? null,
    userId: (payload.userId as string | undefined) ?? null,
    anonymousId: (payload.anonymousId as string | undefined) ?? null,
    timestampMs: tsMs,
    receivedAtMs: Date.now(),
    payload: JSON.stringify(payload),
    identAnonymousId: id.anonymousId,
    identUserId: id.userId,
    identityExtra: id.extra,
  };
}
