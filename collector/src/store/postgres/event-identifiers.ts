import type { IdentityExtra } from '../../identity/event-identity.js';
import type { DeviceIdentify } from '../../identity/shared-device.js';

export interface IdentityInput {
  anonymousId: string | null;
  userId: string | null;
  extra: string | null;
  ts: number;
  messageId: string;
}

export interface EventIdentifier {
  type: string;
  value: string;
  /** Map key of the identifier (keyOf). */
  k: string;
  alias: boolean;
}

export interface EventIdentifiers {
  ids: EventIdentifier[];
  user: EventIdentifier | null;
  anon: EventIdentifier | null;
}

/** An identifier this commit needs, with its earliest sighting among the commit's events. */
export interface Want {
  type: string;
  value: string;
  ts: number;
  msg: string;
  /** Seen in this commit only as an alias's previousId (see resolve.ts). */
  alias: boolean;
}

export const keyOf = (type: string, value: string) => `${type}\u0000${value}`;
export const earlier = (ts: number, msg: string, than: { ts: number; msg: string }) =>
  ts < than.ts || (ts === than.ts && msg < than.msg);

export const parseExtras = (events: readonly IdentityInput[]) =>
  events.map((e) => (e.extra ? (JSON.parse(e.extra) as IdentityExtra) : null));

/**
 * Per event, its identifiers in the writer's fixed order (userId, trait identifiers, anonymousId,
 * alias previousId). An alias's previousId is both a userId and an anonymous ID, marked as seen
 * through the alias: the resolver keeps the reading the set of events supports, as on SQLite.
 */
export function identifierLists(
  events: readonly IdentityInput[],
  extras: (IdentityExtra | null)[],
): EventIdentifiers[] {
  return events.map((e, i) => {
    const extra = extras[i];
    // Each identifier's map key is built once here, not at every later lookup.
    const id = (type: string, value: string, alias = false) => ({ type, value, k: keyOf(type, value), alias });
    const ids: EventIdentifier[] = [];
    const user = e.userId ? id('userId', e.userId) : null;
    if (user) ids.push(user);
    for (const [t, v] of extra?.t ?? []) ids.push(id(t, v));
    const anon = e.anonymousId ? id('anonymousId', e.anonymousId) : null;
    if (anon) ids.push(anon);
    if (extra?.p) ids.push(id('userId', extra.p, true), id('anonymousId', extra.p, true));
    return { ids, user, anon };
  });
}

/** Every identifier of the events not suppressed, once, with the earliest sighting among them. */
export function wantedIdentifiers(
  events: readonly IdentityInput[],
  lists: readonly EventIdentifiers[],
  suppressed: Set<number>,
): Map<string, Want> {
  const wanted = new Map<string, Want>();
  lists.forEach((list, i) => {
    if (suppressed.has(i)) return;
    const e = events[i] as IdentityInput;
    for (const { type, value, k, alias } of list.ids) {
      const w = wanted.get(k);
      if (!w) wanted.set(k, { type, value, ts: e.ts, msg: e.messageId, alias });
      else {
        if (!alias) w.alias = false;
        if (earlier(e.ts, e.messageId, w)) Object.assign(w, { ts: e.ts, msg: e.messageId });
      }
    }
  });
  return wanted;
}

/** The identify calls of the events not suppressed that name a device and a userId (shared-device.ts). */
export function deviceIdentifies(
  events: readonly IdentityInput[],
  lists: readonly EventIdentifiers[],
  extras: readonly (IdentityExtra | null)[],
  suppressed: Set<number>,
  idOf: (k: string) => number,
): DeviceIdentify[] {
  const out: DeviceIdentify[] = [];
  lists.forEach((list, i) => {
    if (suppressed.has(i) || !extras[i]?.i || !list.anon || !list.user) return;
    const e = events[i] as IdentityInput;
    out.push({ device: idOf(list.anon.k), user: idOf(list.user.k), ts: e.ts, messageId: e.messageId });
  });
  return out;
}
