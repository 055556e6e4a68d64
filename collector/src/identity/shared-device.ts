import { BEGINNING, type ResolverLink, type ResolverNode } from './resolve.js';

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

/**
 * An identify call that named a device (anonymous ID) and a userId together. Links keep only a
 * pair's earliest sighting, which is all most devices need; a device shared by several users
 * (identified as u1, then u2, then u1 again) is moved back and forth by each of these, so the
 * stores keep them all and the replay of a shared device's cluster reads them.
 */
export interface DeviceIdentify {
  device: number;
  user: number;
  ts: number;
  messageId: string;
}

/**
 * Whether `device` is linked to two or more userIds through links not detached (`links`: its own).
 * Stops at the second: a device every backend event names (`anonymousId: 'server'`) has a link
 * to each user, and this runs for every identify of it.
 */
export function isShared(
  device: number,
  node: (id: number) => Pick<ResolverNode, 'type'> | undefined,
  links: Iterable<ResolverLink>,
): boolean {
  if (node(device)?.type !== 'anonymousId') return false;
  let first: number | undefined;
  for (const l of links) {
    if (l.detached) continue;
    const other = l.a === device ? l.b : l.b === device ? l.a : undefined;
    if (other === undefined || other === first || node(other)?.type !== 'userId') continue;
    if (first !== undefined) return true;
    first = other;
  }
  return false;
}

/** Devices (anonymous IDs) a cluster links to two or more userIds, through links not detached. */
export function sharedDevices(
  node: (id: number) => Pick<ResolverNode, 'type'> | undefined,
  links: Iterable<ResolverLink>,
): number[] {
  const users = new Map<number, Set<number>>();
  for (const l of links) {
    if (l.detached) continue;
    const [ta, tb] = [node(l.a)?.type, node(l.b)?.type];
    const [device, user] =
      ta === 'anonymousId' && tb === 'userId' ? [l.a, l.b] : tb === 'anonymousId' && ta === 'userId' ? [l.b, l.a] : [];
    if (device === undefined || user === undefined) continue;
    const set = users.get(device) ?? new Set<number>();
    set.add(user);
    users.set(device, set);
  }
  return [...users].filter(([, set]) => set.size >= 2).map(([device]) => device);
}

/**
 * A shared device's identify calls as more sightings of its links, for the replay. A pair with no
 * link, or one an admin detached, contributes nothing: its sightings are ignored like the link.
 */
export function identifyLinks(identifies: readonly DeviceIdentify[], links: Iterable<ResolverLink>): ResolverLink[] {
  const live = new Set<string>();
  for (const l of links) if (!l.detached) live.add(`${l.a}:${l.b}`);
  const out: ResolverLink[] = [];
  for (const d of identifies) {
    const [a, b] = d.device < d.user ? [d.device, d.user] : [d.user, d.device];
    if (live.has(`${a}:${b}`)) out.push({ a, b, ts: d.ts, messageId: d.messageId, detached: false });
  }
  return out;
}
