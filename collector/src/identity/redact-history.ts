import type { IdentityEntry, ProfileHistory } from '@kimlik/core';

const IDENTIFIER = /^(userId|email|phone|anonymousId):/;

/**
 * A profile's history as its person may see it (GDPR export): identifiers of other people that
 * entries name — the userId a shared device went to, the other userId of a refused link — become
 * "<type>:(another person)". The admin history keeps them; the export goes to the data subject.
 */
export function redactOtherPeople(
  history: ProfileHistory,
  own: readonly { type: string; value: string }[],
): ProfileHistory {
  const mine = new Set(own.map((i) => `${i.type}:${i.value}`));
  const redact = (v: unknown): unknown => {
    if (typeof v === 'string') {
      const m = IDENTIFIER.exec(v);
      return m && !mine.has(v) ? `${m[1]}:(another person)` : v;
    }
    if (Array.isArray(v)) return v.map(redact);
    // An unmerge entry carries the entries it undid, which name the one who left.
    if (v !== null && typeof v === 'object')
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, redact(x)]));
    return v;
  };
  const identity = history.identity.map((e) => {
    const out: IdentityEntry = { ...e };
    for (const [k, v] of Object.entries(e))
      if (k !== 'kind' && k !== 'timestamp' && k !== 'messageId') out[k] = redact(v);
    // An unmerge's trait changes pair this person's values with the other side's: keys only.
    if (e.kind === 'unmerge' && Array.isArray(e.traits)) {
      out.traits = e.traits.map((t) => ({ key: (t as { key: unknown }).key }));
    }
    return out;
  });
  return { ...history, identity };
}
