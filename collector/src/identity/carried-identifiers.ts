import type { WireEvent } from '@kimlik/core';
import { extractIdentifiers, type IdentityConfig } from './identifiers.js';

/**
 * Every identifier a stored event names, as `type:value` keys, an alias's previousId under both
 * readings (resolve.ts). For events no profile holds (their identity failed, see the stores'
 * identity appliers): an erasure finds them by what they carry instead of by attribution.
 */
export function carriedIdentifierKeys(event: WireEvent, config: IdentityConfig): string[] {
  const ids = extractIdentifiers(event, config);
  const keys = [ids.anonymousId, ids.userId, ...ids.traits].flatMap((i) => (i ? [`${i.type}:${i.value}`] : []));
  if (ids.previousId) keys.push(`userId:${ids.previousId.value}`, `anonymousId:${ids.previousId.value}`);
  return keys;
}

/** Whether a stored event (its payload) names any of `erased` (`type:value` keys). */
export function namesAny(payload: string, erased: ReadonlySet<string>, config: IdentityConfig): boolean {
  return carriedIdentifierKeys(JSON.parse(payload) as WireEvent, config).some((k) => erased.has(k));
}

/** A link's far end, not erased, and its event's time and messageId: where that event is attributed. */
export interface NamingLink {
  other: number;
  ts: number;
  messageId: string;
}

/**
 * Other people's events that name an erased person — an alias from their userId, their email
 * typed on another account: every such event linked them to its own identifiers, refused or not,
 * so the links say where to look. The event is attributed to one of those identifiers (its
 * userId's, else its anonymous ID's), at its time. A link keeps its pair's earliest event only: a
 * later event naming the same pair is not found this way.
 */
export function namingLinks(
  gone: ReadonlySet<number>,
  links: Iterable<{ a: number; b: number; ts: number; messageId: string }>,
): NamingLink[] {
  const found = new Map<string, NamingLink>();
  for (const l of links) {
    for (const [from, other] of [
      [l.a, l.b],
      [l.b, l.a],
    ] as const) {
      if (gone.has(from) && !gone.has(other))
        found.set(`${other} ${l.ts} ${l.messageId}`, { other, ts: l.ts, messageId: l.messageId });
    }
  }
  return [...found.values()];
}
