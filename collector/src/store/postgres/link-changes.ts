import { int8Array } from './binary-arrays.js';
import type { Db } from './connection.js';
import { type EventIdentifiers, earlier, type IdentityInput } from './event-identifiers.js';
import type { Ident } from './identifier-ensure.js';

export interface CandidateLink {
  a: number;
  b: number;
  ts: number;
  msg: string;
}

/** Every pair of identifiers that an event not suppressed names together, with its earliest sighting. */
export function candidateLinks(
  events: readonly IdentityInput[],
  lists: readonly EventIdentifiers[],
  suppressed: Set<number>,
  idents: Map<string, Ident>,
): CandidateLink[] {
  const pairs = new Map<string, CandidateLink>();
  lists.forEach((list, i) => {
    if (suppressed.has(i)) return;
    const e = events[i] as IdentityInput;
    const ids = list.ids.map((x) => (idents.get(x.k) as Ident).id);
    for (let x = 0; x < ids.length; x++) {
      for (let y = x + 1; y < ids.length; y++) {
        const [a, b] = (ids[x] as number) < (ids[y] as number) ? [ids[x], ids[y]] : [ids[y], ids[x]];
        if (a === b) continue;
        const k = `${a}:${b}`;
        const p = pairs.get(k);
        if (!p) pairs.set(k, { a: a as number, b: b as number, ts: e.ts, msg: e.messageId });
        else if (earlier(e.ts, e.messageId, p)) Object.assign(p, { ts: e.ts, msg: e.messageId });
      }
    }
  });
  return [...pairs.values()];
}

/** The candidate links that are new or earlier than the stored ones (read without locks). */
export async function linkChanges(c: Db, pairs: CandidateLink[]): Promise<CandidateLink[]> {
  if (pairs.length === 0) return [];
  const r = await c.query<{ a: number; b: number; ts: number; message_id: string }>(
    `SELECT a, b, ts, message_id FROM links
     WHERE (a, b) IN (SELECT * FROM unnest($1::bigint[], $2::bigint[]))`,
    [int8Array(pairs.map((p) => p.a)), int8Array(pairs.map((p) => p.b))],
  );
  const stored = new Map(r.rows.map((row) => [`${row.a}:${row.b}`, { ts: row.ts, msg: row.message_id }]));
  // Sorted by pair: concurrent upserts touch the primary key in one order.
  return pairs
    .filter((p) => {
      const s = stored.get(`${p.a}:${p.b}`);
      return !s || earlier(p.ts, p.msg, s);
    })
    .sort((x, y) => x.a - y.a || x.b - y.b);
}
