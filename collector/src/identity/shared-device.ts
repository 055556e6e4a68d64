import { BEGINNING } from './resolve.js';

/** Where membership ranges end when nothing follows (the resolver's BEGINNING mirrored). */
export const END = 8.64e15;

/**
 * A member of a profile that also belongs to another profile at other times: a shared device
 * (an anonymous ID identified as one user and later as another). Erasing the profile erases the
 * device's events in its time ranges only; the device itself, and the other person's events on
 * it, stay.
 */
export function belongsToOthersToo(member: { type: string; ranges: readonly (readonly [number, number])[] }): boolean {
  const [only] = member.ranges;
  return member.type === 'anonymousId' && !(member.ranges.length === 1 && only?.[0] === BEGINNING && only[1] >= END);
}

/**
 * A shared device's first sighting after an erasure: its earliest remaining link, just after the
 * other identifiers of that event. So the device does not found the other person's profile (which
 * would rename it to the erased profile's id, derived from the device).
 */
export const firstAfterErasure = (link: { ts: number; messageId: string }) => ({
  ts: link.ts,
  msg: `${link.messageId}\u0001`,
});
