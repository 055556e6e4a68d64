import { createHash, randomBytes } from 'node:crypto';

export const PROFILE_SALT_SETTING = 'profile_id_salt';

export const newProfileSalt = () => randomBytes(16).toString('base64url');

/**
 * A profile's id is derived from the identifier that founded it (the oldest one), so the same set
 * of events always yields the same ids. Salted per deployment: ids do not reveal emails.
 */
export function profileId(salt: string, type: string, value: string): string {
  return `p_${createHash('sha256').update(`${salt}\u0000${type}\u0000${value}`).digest('base64url').slice(0, 22)}`;
}

/** Suppression entries of erased identifiers: hashed, so erasure keeps no readable identifier. */
export function suppressionHash(salt: string, type: string, value: string): string {
  return createHash('sha256').update(`${salt}\u0000suppress\u0000${type}\u0000${value}`).digest('base64url');
}
