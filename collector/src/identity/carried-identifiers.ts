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
