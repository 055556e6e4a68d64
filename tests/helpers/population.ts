/**
 * A seeded cross-device population and its reference identity partition (plain union-find over
 * identifiers that share an event), shared by the order-independence and multi-process suites.
 */
import { rng } from '../../bench/lib/rng.mjs';

export { rng };
export type Ev = Record<string, unknown>;

export const shuffle = <T>(xs: T[], rand: () => number): T[] => {
  const a = [...xs];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [a[i], a[j]] = [a[j] as T, a[i] as T];
  }
  return a;
};

/**
 * `events` events over `persons` people: 60% have an email, 30% two devices; anonymous page
 * views, device→userId identifies, device→email identifies and server-side userId events.
 */
export function population(seed: number, persons: number, events: number, t0: number): Ev[] {
  const rand = rng(seed);
  const out: Ev[] = [];
  const people = Array.from({ length: persons }, (_, i) => ({
    user: `user-${i}`,
    email: rand() < 0.6 ? `person${i}@example.com` : null,
    devices: rand() < 0.3 ? [`dev-${i}-a`, `dev-${i}-b`] : [`dev-${i}-a`],
  }));
  for (let n = 0; n < events; n++) {
    const p = people[Math.floor(rand() * persons)] as (typeof people)[number];
    const device = p.devices[Math.floor(rand() * p.devices.length)] as string;
    const r = rand();
    const base = { messageId: `ev-${n}`, timestamp: new Date(t0 + Math.floor(rand() * 86_400_000)).toISOString() };
    if (r < 0.5) out.push({ ...base, type: 'track', anonymousId: device, event: 'Viewed' });
    else if (r < 0.65) out.push({ ...base, type: 'identify', anonymousId: device, userId: p.user });
    else if (r < 0.8 && p.email)
      out.push({ ...base, type: 'identify', anonymousId: device, traits: { email: p.email } });
    else out.push({ ...base, type: 'track', userId: p.user, event: 'Server Side' });
  }
  return out;
}

/** Reference: every identifier mapped to its group's root, by plain union-find. */
export function reference(events: Ev[]): Map<string, string> {
  const parent = new Map<string, string>();
  const find = (x: string): string => {
    if (!parent.has(x)) parent.set(x, x);
    let r = x;
    while (parent.get(r) !== r) r = parent.get(r) as string;
    parent.set(x, r);
    return r;
  };
  for (const e of events) {
    const ids: string[] = [];
    if (e.anonymousId) ids.push(`anonymousId:${e.anonymousId}`);
    if (e.userId) ids.push(`userId:${e.userId}`);
    const email = (e.traits as { email?: string } | undefined)?.email;
    if (email) ids.push(`email:${email}`);
    for (const id of ids) find(id);
    for (let i = 1; i < ids.length; i++) parent.set(find(ids[i] as string), find(ids[0] as string));
  }
  const canon = new Map<string, string>();
  for (const id of parent.keys()) canon.set(id, find(id));
  return canon;
}

/** The groups as sorted strings: two partitions are equal when these are. */
export const partition = (groups: Map<string, string>): string[] => {
  const sets = new Map<string, string[]>();
  for (const [id, root] of groups) sets.set(root, [...(sets.get(root) ?? []), id]);
  return [...sets.values()].map((s) => s.sort().join(',')).sort();
};

/** Reads every identifier's profile through the admin API and returns identifier → profile id. */
export async function storedOwners(
  url: string,
  adminKey: string,
  identifiers: Iterable<string>,
): Promise<Map<string, string>> {
  const owner = new Map<string, string>();
  for (const id of identifiers) {
    if (owner.has(id)) continue;
    const sep = id.indexOf(':');
    const res = await fetch(`${url}/v1/profiles?${id.slice(0, sep)}=${encodeURIComponent(id.slice(sep + 1))}`, {
      headers: { authorization: `Bearer ${adminKey}` },
    });
    if (res.status !== 200) throw new Error(`profile of ${id}: ${res.status} ${await res.text()}`);
    const body = (await res.json()) as { id: string; identifiers: { type: string; value: string }[] };
    for (const i of body.identifiers) owner.set(`${i.type}:${i.value}`, body.id);
  }
  return owner;
}
