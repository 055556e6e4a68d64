import type { WireEvent } from '@kimlik/core';
import { extractIdentifiers, type IdentityConfig, isObject } from './identifiers.js';
import { type TraitWrite, traitWrites } from './traits.js';

/**
 * What the writer needs to know about an event's identity, computed on the HTTP thread so the
 * writer thread never re-parses payloads.
 */
export interface EventIdentity {
  /** Normalized anonymousId, or null when absent or blocked. */
  anonymousId: string | null;
  userId: string | null;
  /**
   * JSON of {t: trait identifiers [[type, value]], p: alias previousId, w: trait writes
   * [[key, value, setOnce]], i: 1 when an identify names the device and the userId}, or null.
   */
  extra: string | null;
  /** Human-readable warnings stored with the event (blocked identifier values). */
  warnings: string[];
}

export interface IdentityExtra {
  t?: [string, string][];
  p?: string;
  w?: [string, string | null, 0 | 1][];
  /** An identify of this device as this userId: the stores keep it (see DeviceIdentify). */
  i?: 1;
}

export function eventIdentity(event: WireEvent, ts: number, messageId: string, config: IdentityConfig): EventIdentity {
  const ids = extractIdentifiers(event, config);
  const extra: IdentityExtra = {};
  if (ids.traits.length > 0) extra.t = ids.traits.map((i) => [i.type, i.value]);
  // The writer decides whether previousId is a known userId or an anonymous ID.
  if (ids.previousId) extra.p = ids.previousId.value;
  if (event.type === 'identify') {
    const writes = identifyTraitWrites(event, ts, messageId);
    if (writes.length > 0) extra.w = writes.map((w) => [w.key, w.value, w.setOnce ? 1 : 0]);
  }
  if (event.type === 'identify' && ids.anonymousId && ids.userId) extra.i = 1;
  return {
    anonymousId: ids.anonymousId?.value ?? null,
    userId: ids.userId?.value ?? null,
    extra: extra.t || extra.p || extra.w || extra.i ? JSON.stringify(extra) : null,
    warnings: ids.blocked.map((b) => `identifier_blocked: ${b} is not used to link profiles`),
  };
}

/**
 * An identify's trait writes: its `traits`, and its `context.traits` for the keys `traits` does not
 * name (RudderStack's SDKs send identify traits in `context.traits` only). Never another type's
 * `context.traits`: analytics.js and RudderStack copy the cached traits there on every call, so a
 * track's would write stale values stamped later than the identify that changed them.
 */
function identifyTraitWrites(event: WireEvent, ts: number, messageId: string): TraitWrite[] {
  const top = event.traits ? traitWrites(event.traits, ts, messageId) : [];
  const contextTraits = event.context?.traits;
  const fromContext = isObject(contextTraits) ? traitWrites(contextTraits, ts, messageId) : [];
  const named = new Set(top.map((w) => w.key));
  return [...top, ...fromContext.filter((w) => !named.has(w.key))];
}
