import { createHash, randomBytes } from 'node:crypto';
import { hash53 } from '../ingest/hash.js';

export const PROFILE_SALT_SETTING = 'profile_id_salt';

export const newProfileSalt = () => randomBytes(16).toString('base64url');

/**
 * A 53-bit salted hash of an identifier: the key of the identifiers index (a compact integer, not
 * the ~40-byte text) and the body of the profile id it founds.
 */
export function identifierHash(salt: string, type: string, value: string): number {
  let seed = seeds.get(salt);
  if (seed === undefined) {
    seed = hash53(salt) >>> 0;
    seeds.set(salt, seed);
  }
  return hash53(`${type}\u0000${value}`, seed);
}
const seeds = new Map<string, number>();

/**
 * A profile's id is derived from the identifier that founded it (the oldest one), so the same set
 * of events always yields the same ids. Salted per deployment: ids do not reveal emails.
 */
export function profileId(salt: string, type: string, value: string): string {
  return profileIdFromHash(identifierHash(salt, type, value));
}

export const profileIdFromHash = (hash: number) => `p_${hash.toString(36)}`;

/**
 * The hash of an identifier's reserve profile id, for when its own was erased and it has no other
 * member to go by. Half the 53-bit range away (without passing 2^53, past which sums round):
 * applied twice it gives the identifier's own hash back, which is how a reserve id is looked up.
 */
export const reserveHash = (hash: number) => (hash < 2 ** 52 ? hash + 2 ** 52 : hash - 2 ** 52);

/**
 * The id a profile goes by: its founder's (the first of `ids`), unless that id was erased with a
 * person the founder outlived (a shared device keeps its other user's period). Then the first free
 * one of the rest: its other members' from the start, oldest first (a lookup of a member's id
 * leads to its profile already), then the founder's reserve id (`reserveHash`). The erased id
 * keeps naming no one and the survivor stays readable.
 */
export function liveProfileId(ids: readonly string[], erased: ReadonlySet<string>): string {
  return ids.find((id) => !erased.has(id)) ?? (ids[0] as string);
}

/** The identifier hash a profile id carries, or null for anything that is not a profile id. */
export function hashFromProfileId(id: string): number | null {
  if (!/^p_[0-9a-z]{1,11}$/.test(id)) return null;
  const n = Number.parseInt(id.slice(2), 36);
  return Number.isSafeInteger(n) ? n : null;
}

/** Suppression entries of erased identifiers: hashed, so erasure keeps no readable identifier. */
export function suppressionHash(salt: string, type: string, value: string): string {
  return createHash('sha256').update(`${salt}\u0000suppress\u0000${type}\u0000${value}`).digest('base64url');
}
