import type { IdentityEntry } from '@kimlik/core';
import type { IdentifierType } from './identifiers.js';

export interface UnmergeMember {
  id: number;
  type: IdentifierType | string;
}

/**
 * Which links an unmerge cuts, as a pure function shared by the stores: the detached identifier's
 * links to the profile's core — the part that, without it, still holds the userId (else the
 * founder, else any member). Links to members that only hung on through it stay, so they leave
 * with it. Null when the profile has no other member.
 */
export function linksToDetach(
  members: readonly UnmergeMember[],
  links: readonly { a: number; b: number }[],
  targetId: number,
  founderId: number | undefined,
): { anchorId: number; detach: { a: number; b: number }[] } | null {
  const others = members.filter((m) => m.id !== targetId);
  const otherIds = new Set(others.map((m) => m.id));
  const parent = new Map(others.map((m) => [m.id, m.id]));
  const find = (x: number): number => {
    let r = x;
    while (parent.get(r) !== r) r = parent.get(r) as number;
    return r;
  };
  for (const { a, b } of links) if (otherIds.has(a) && otherIds.has(b)) parent.set(find(a), find(b));
  const anchor = others.find((m) => m.type === 'userId') ?? others.find((m) => m.id === founderId) ?? others[0];
  if (!anchor) return null;
  const core = find(anchor.id);
  const detach = links.filter(({ a, b }) => {
    if (a !== targetId && b !== targetId) return false;
    const other = a === targetId ? b : a;
    return otherIds.has(other) && find(other) === core;
  });
  return { anchorId: anchor.id, detach };
}

/** What an unmerge's history entry records of the profile it changed, so the history only grows. */
export interface UnmergeUndone {
  /** Identity-history entries the replay removed from the profile, as the history API showed them. */
  undid: IdentityEntry[];
  /** Trait values the unmerge changed; null stands for absent. */
  traits: { key: string; from: unknown; to: unknown }[];
  /** Entries left out to keep the admin log row bounded (a kiosk cluster may lose thousands). */
  undidOmitted?: number;
  traitsOmitted?: number;
}

/** The profile's side of the history API, read by the store before and after an unmerge. */
export interface HistorySnapshot {
  history: { identity: readonly IdentityEntry[] };
  /** Current trait values. */
  traits: Readonly<Record<string, unknown>>;
}

/** Bounds what one unmerge entry may carry: admin_log rows are read back with every history. */
export const UNMERGE_UNDONE_MAX_ENTRIES = 200;
export const UNMERGE_UNDONE_MAX_CHARS = 64 * 1024;

/** JSON with object keys sorted: the same entry compares equal whatever order its detail was written in. */
const canonical = (value: unknown): string =>
  JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );

/**
 * The entries of `before` that `after` no longer shows, and the traits whose values differ,
 * bounded: traits first (what the profile reads now), then the oldest undone entries, each
 * kept whole while the budget lasts; the rest are counted.
 */
export function undoneByUnmerge(before: HistorySnapshot, after: HistorySnapshot): UnmergeUndone {
  const still = new Set(after.history.identity.map(canonical));
  const undone = before.history.identity.filter((e) => !still.has(canonical(e)));
  const keys = [...new Set([...Object.keys(before.traits), ...Object.keys(after.traits)])].sort();
  const changed = keys.flatMap((key) => {
    const from = before.traits[key] ?? null;
    const to = after.traits[key] ?? null;
    return canonical(from) === canonical(to) ? [] : [{ key, from, to }];
  });
  let chars = 0;
  const fits = (item: unknown, index: number) => {
    const size = canonical(item).length;
    if (index >= UNMERGE_UNDONE_MAX_ENTRIES || chars + size > UNMERGE_UNDONE_MAX_CHARS) return false;
    chars += size;
    return true;
  };
  const traits = takeWhile(changed, fits);
  const undid = takeWhile(undone, fits);
  const out: UnmergeUndone = { undid, traits };
  if (undid.length < undone.length) out.undidOmitted = undone.length - undid.length;
  if (traits.length < changed.length) out.traitsOmitted = changed.length - traits.length;
  return out;
}

function takeWhile<T>(items: readonly T[], keep: (item: T, index: number) => boolean): T[] {
  const out: T[] = [];
  for (const item of items) {
    if (!keep(item, out.length)) break;
    out.push(item);
  }
  return out;
}
