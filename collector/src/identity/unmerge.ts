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
