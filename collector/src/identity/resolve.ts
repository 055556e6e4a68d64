import type { IdentifierType } from './identifiers.js';

/**
 * Identity resolution for one cluster of identifiers, as a pure function of its links.
 *
 * Why this shape: a profile must depend on the *set* of events received, never on their arrival
 * order. So every link is kept (per identifier pair, its earliest occurrence), and whenever a
 * link is added or moves earlier, the whole cluster it touches is replayed here in
 * (event time, messageId) order. The replay enforces the merge rules — one userId per profile
 * (so an email belongs to at most one userId, the earlier claim winning), caps, and the
 * shared-device rule — exactly as if the events had arrived in time order.
 */

export interface ResolverNode {
  id: number;
  type: IdentifierType;
  value: string;
  /** Earliest event carrying this identifier: decides which profile is older. */
  firstTs: number;
  firstMsg: string;
  /** Seen only as an alias's previousId so far (see `inert`). */
  aliasOnly?: boolean;
}

export interface ResolverLink {
  a: number;
  b: number;
  ts: number;
  messageId: string;
  /** Cut by an admin unmerge: ignored from then on. */
  detached: boolean;
}

export interface ResolverCaps {
  maxIdentifiers: number;
  maxMerges: number;
}

/** History note of a new identifier whose links to a cluster past the size limit were parked. */
export const parkedReason = (maxClusterIdentifiers: number) =>
  `linked to a cluster of more than ${maxClusterIdentifiers} identifiers (KIMLIK_MAX_CLUSTER_IDENTIFIERS), which is no longer re-resolved; the links to it are parked`;

/**
 * History note of a hub: an identifier linked to more than `maxClusterIdentifiers` others. Its
 * cluster could never be replayed whole, so instead of freezing it at whatever arrived first, the
 * hub stands alone and every cluster is replayed as if it had no links: a function of the set of
 * events again. Hubs are things, not people: a backend's fixed anonymousId, a kiosk, a test address.
 */
export const hubReason = (maxClusterIdentifiers: number) =>
  `linked to more than ${maxClusterIdentifiers} other identifiers (KIMLIK_MAX_CLUSTER_IDENTIFIERS): a hub, such as a backend's fixed anonymousId, is a profile of its own and its links are parked`;

/** From `fromTs` on, the identifier belongs to the profile founded by `founderId`. */
export interface Membership {
  identifierId: number;
  fromTs: number;
  founderId: number;
}

export type LogKind = 'merge' | 'refused_two_user_ids' | 'refused_unmerged' | 'device_reassigned' | 'cap_reached';

export interface LogEntry {
  kind: LogKind;
  ts: number;
  messageId: string;
  /** Identifiers whose profiles' histories show this entry. */
  identifierIds: number[];
  detail: Record<string, unknown>;
}

export interface Resolution {
  memberships: Membership[];
  log: LogEntry[];
}

/** Segments of an anonymous ID before any reassignment start here. */
export const BEGINNING = -8.64e15;

const TYPE_RANK: Record<IdentifierType, number> = { userId: 0, email: 1, phone: 1, anonymousId: 2 };
const isPerson = (t: IdentifierType) => t !== 'anonymousId';

interface Comp {
  userId: number | undefined;
  size: number;
  merges: number;
  founder: ResolverNode;
}

/**
 * Links by (event time, messageId, rank, the pair's keys): an order that depends only on the
 * links themselves, never on storage order or ids.
 */
const inLinkOrder = (x: { l: ResolverLink; r: number; k: string }, y: typeof x): number =>
  x.l.ts !== y.l.ts
    ? x.l.ts - y.l.ts
    : x.l.messageId !== y.l.messageId
      ? x.l.messageId < y.l.messageId
        ? -1
        : 1
      : x.r !== y.r
        ? x.r - y.r
        : x.k < y.k
          ? -1
          : x.k > y.k
            ? 1
            : 0;

/** Whether `x` was seen before `y`: the older identifier founds the profile that survives. */
export const older = (x: Pick<ResolverNode, 'firstTs' | 'firstMsg' | 'type' | 'value'>, y: typeof x) =>
  x.firstTs !== y.firstTs
    ? x.firstTs < y.firstTs
    : x.firstMsg !== y.firstMsg
      ? x.firstMsg < y.firstMsg
      : `${x.type}:${x.value}` < `${y.type}:${y.value}`;

/**
 * An alias's previousId is recorded both as a userId and as an anonymous ID, marked alias-only
 * until another event carries the value in its own field. Which one the alias meant is decided
 * here, from the set of events, never from which arrived first: the userId when an event names
 * that userId, else the device. The other one takes no part in any link: it stays recorded (a
 * later event may change the choice), and the profile readers treat it as no one.
 */
function inertNodes(nodes: readonly ResolverNode[]): Set<number> {
  const inert = new Set<number>();
  const realUsers = new Set(nodes.filter((n) => n.type === 'userId' && !n.aliasOnly).map((n) => n.value));
  for (const n of nodes) {
    if (!n.aliasOnly) continue;
    if (n.type === 'userId' || (n.type === 'anonymousId' && realUsers.has(n.value))) inert.add(n.id);
  }
  return inert;
}

/**
 * The alias's links to the device reading of its previousId, when the alias meant the userId
 * (`inertNodes` covers a reading no event claims; this, a value that is a device *and* a userId:
 * used both ways, it would move the device to the alias's user as well as refusing the userIds).
 * An alias is recorded as links from both readings of previousId E to its userId and between the
 * two readings, all under its messageId; it is the only event that links two userIds, which tells
 * its links from those of an event whose anonymousId and userId are both E.
 */
function aliasDeviceLinks(
  byId: ReadonlyMap<number, ResolverNode>,
  links: readonly ResolverLink[],
  inert: ReadonlySet<number>,
): Set<ResolverLink> {
  const ignored = new Set<ResolverLink>();
  /** messageId → the device reading of a userId some event names, both linked under it. */
  const devices = new Map<string, { user: number; device: number }>();
  for (const l of links) {
    const [a, b] = [byId.get(l.a), byId.get(l.b)];
    if (!a || !b || a.value !== b.value || a.type === b.type) continue;
    const [user, device] = a.type === 'userId' ? [a, b] : [b, a];
    if (user.type === 'userId' && device.type === 'anonymousId' && !inert.has(user.id))
      devices.set(l.messageId, { user: user.id, device: device.id });
  }
  if (devices.size === 0) return ignored;
  const aliases = new Set<string>();
  for (const l of links) {
    const d = devices.get(l.messageId);
    const other = d && (l.a === d.user ? l.b : l.b === d.user ? l.a : undefined);
    if (other !== undefined && byId.get(other)?.type === 'userId') aliases.add(l.messageId);
  }
  for (const l of links) {
    const d = aliases.has(l.messageId) ? devices.get(l.messageId) : undefined;
    if (d && (l.a === d.device || l.b === d.device)) ignored.add(l);
  }
  return ignored;
}

export function resolveCluster(
  nodes: readonly ResolverNode[],
  links: readonly ResolverLink[],
  caps: ResolverCaps,
): Resolution {
  const inert = inertNodes(nodes);
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const aliasOnly = aliasDeviceLinks(byId, links, inert);
  const key = (id: number) => {
    const n = byId.get(id) as ResolverNode;
    return `${n.type}:${n.value}`;
  };
  /** A link's two ends in a fixed order (by key, never by id: ids follow arrival order). */
  const linkKeys = (l: ResolverLink) => [key(l.a), key(l.b)].sort();
  /**
   * The end whose history shows a merge: the person rather than the device (a device may belong
   * to several people over time), else the smaller key — chosen from the link, not from ids.
   */
  const shownOn = (l: ResolverLink) => {
    const [a, b] = [byId.get(l.a) as ResolverNode, byId.get(l.b) as ResolverNode];
    if (isPerson(a.type) !== isPerson(b.type)) return isPerson(a.type) ? a.id : b.id;
    return key(a.id) < key(b.id) ? a.id : b.id;
  };
  const parent = new Map<number, number>();
  const comps = new Map<number, Comp>();
  for (const n of nodes) {
    parent.set(n.id, n.id);
    comps.set(n.id, { userId: n.type === 'userId' ? n.id : undefined, size: 1, merges: 0, founder: n });
  }
  const find = (x: number): number => {
    let r = x;
    while (parent.get(r) !== r) r = parent.get(r) as number;
    let c = x;
    while (c !== r) {
      const next = parent.get(c) as number;
      parent.set(c, r);
      c = next;
    }
    return r;
  };
  const comp = (root: number) => comps.get(root) as Comp;
  /** Reassignments of anonymous IDs (shared devices without reset). */
  const segments = new Map<number, { fromTs: number; root: number }[]>();
  const currentRoot = (anon: number, ts: number): number => {
    const segs = segments.get(anon);
    if (segs) {
      for (let i = segs.length - 1; i >= 0; i--) {
        const s = segs[i] as { fromTs: number; root: number };
        if (s.fromTs <= ts) return find(s.root);
      }
    }
    return find(anon);
  };
  const log: LogEntry[] = [];
  // Pairs an admin unmerged: not only is their link ignored, no other path may join them again
  // (a new device identified as the user with the wrong email would otherwise undo the unmerge).
  // In (time, messageId, pair) order, not storage order: a refusal names the same pair however
  // the events arrived.
  const apart = links
    .filter((l) => l.detached && byId.has(l.a) && byId.has(l.b))
    .map((l) => ({ l, r: 0, k: linkKeys(l).join('\u0000') }))
    .sort(inLinkOrder)
    .map((x) => x.l);
  const rootAt = (id: number, ts: number) =>
    (byId.get(id) as ResolverNode).type === 'anonymousId' ? currentRoot(id, ts) : find(id);

  const union = (rx: number, ry: number, link: ResolverLink): void => {
    if (rx === ry) return;
    const split = apart.find((d) => {
      const [ra, rb] = [rootAt(d.a, link.ts), rootAt(d.b, link.ts)];
      return (ra === rx && rb === ry) || (ra === ry && rb === rx);
    });
    if (split) {
      log.push({
        kind: 'refused_unmerged',
        ts: link.ts,
        messageId: link.messageId,
        identifierIds: [split.a, split.b],
        detail: {
          link: linkKeys(link),
          unmerged: linkKeys(split),
          reason: 'an admin unmerged these identifiers, so no link joins them again',
        },
      });
      return;
    }
    const cx = comp(rx);
    const cy = comp(ry);
    if (cx.userId !== undefined && cy.userId !== undefined && cx.userId !== cy.userId) {
      log.push({
        kind: 'refused_two_user_ids',
        ts: link.ts,
        messageId: link.messageId,
        // Shown in both profiles' histories: one row under each userId.
        identifierIds: [cx.userId, cy.userId],
        detail: {
          link: linkKeys(link),
          userIds: [key(cx.userId), key(cy.userId)].sort(),
          reason: 'a profile holds at most one userId; the earlier claim keeps this identifier',
        },
      });
      return;
    }
    if (cx.size + cy.size > caps.maxIdentifiers || cx.merges + cy.merges + 1 > caps.maxMerges) {
      log.push({
        kind: 'cap_reached',
        ts: link.ts,
        messageId: link.messageId,
        identifierIds: [link.a, link.b],
        detail: {
          link: linkKeys(link),
          reason: `merging would exceed ${caps.maxIdentifiers} identifiers or ${caps.maxMerges} merges per profile; the link is parked`,
        },
      });
      return;
    }
    const [keep, gone] = older(cx.founder, cy.founder) ? [rx, ry] : [ry, rx];
    const k = comp(keep);
    const g = comp(gone);
    parent.set(gone, keep);
    comps.set(keep, {
      userId: k.userId ?? g.userId,
      size: k.size + g.size,
      merges: k.merges + g.merges + 1,
      founder: k.founder,
    });
    comps.delete(gone);
    log.push({
      kind: 'merge',
      ts: link.ts,
      messageId: link.messageId,
      // Both sides end in one profile: one row is enough.
      identifierIds: [shownOn(link)],
      detail: {
        link: linkKeys(link),
        survivor: key(k.founder.id),
        absorbed: key(g.founder.id),
      },
    });
  };

  const rank = (l: ResolverLink) => {
    const a = byId.get(l.a) as ResolverNode;
    const b = byId.get(l.b) as ResolverNode;
    return TYPE_RANK[a.type] + TYPE_RANK[b.type];
  };
  // A total order that depends only on the links themselves, never on storage order or ids.
  const sorted = links
    .filter(
      (l) => !l.detached && byId.has(l.a) && byId.has(l.b) && !inert.has(l.a) && !inert.has(l.b) && !aliasOnly.has(l),
    )
    .map((l) => {
      const [ka, kb] = [key(l.a), key(l.b)].sort();
      return { l, r: rank(l), k: `${ka}\u0000${kb}` };
    })
    .sort(inLinkOrder);

  for (const { l } of sorted) {
    const a = byId.get(l.a) as ResolverNode;
    const b = byId.get(l.b) as ResolverNode;
    if (isPerson(a.type) && isPerson(b.type)) {
      union(find(a.id), find(b.id), l);
      continue;
    }
    if (!isPerson(a.type) && !isPerson(b.type)) {
      union(currentRoot(a.id, l.ts), currentRoot(b.id, l.ts), l);
      continue;
    }
    const [anon, person] = isPerson(a.type) ? [b, a] : [a, b];
    const cur = currentRoot(anon.id, l.ts);
    const target = find(person.id);
    if (cur === target) continue;
    const uCur = comp(cur).userId;
    const uTarget = comp(target).userId;
    if (uCur !== undefined && uTarget !== undefined && uCur !== uTarget && person.type !== 'userId') {
      // Another user's email typed on a device that belongs to a user: refused, the device stays.
      union(cur, target, l);
      continue;
    }
    if (uCur !== undefined && uTarget !== undefined && uCur !== uTarget) {
      // Shared device without reset(): identified as another userId, from this event on the
      // device belongs to that user.
      const segs = segments.get(anon.id) ?? [];
      segs.push({ fromTs: l.ts, root: target });
      segments.set(anon.id, segs);
      log.push({
        kind: 'device_reassigned',
        ts: l.ts,
        messageId: l.messageId,
        identifierIds: [uCur, uTarget],
        detail: {
          anonymousId: anon.value,
          from: key(uCur),
          to: key(uTarget),
          reason: 'the device was identified as another userId; its events from this time on belong to that user',
        },
      });
      continue;
    }
    union(cur, target, l);
  }

  const memberships: Membership[] = [];
  for (const n of nodes) {
    const rows: Membership[] = [{ identifierId: n.id, fromTs: BEGINNING, founderId: comp(find(n.id)).founder.id }];
    for (const s of segments.get(n.id) ?? []) {
      const founder = comp(find(s.root)).founder.id;
      // Reassigned twice in one millisecond: membership is by time, so the later link (in
      // (ts, messageId) order) holds the device from then; the earlier one has no time of its own.
      if ((rows[rows.length - 1] as Membership).fromTs === s.fromTs) rows.pop();
      if ((rows[rows.length - 1] as Membership).founderId === founder) continue;
      rows.push({ identifierId: n.id, fromTs: s.fromTs, founderId: founder });
    }
    memberships.push(...rows);
  }
  return { memberships, log };
}
