import type { IdentityExtra } from '../../identity/event-identity.js';
import { boolArray, int8Array, textArray } from './binary-arrays.js';
import type { Db } from './connection.js';
import type { EventIdentifiers, IdentityInput } from './event-identifiers.js';
import type { Ident } from './identifier-ensure.js';

/** An event's identifier ids; null for an event of an erased person. */
export type IdentityIds = { anon: number | null; user: number | null } | null;

/**
 * Per event, its identifier ids, and the trait writes of the events not suppressed, recorded on
 * their owner (the userId, else the anonymous ID).
 */
export async function writeTraits(
  c: Db,
  events: readonly IdentityInput[],
  extras: (IdentityExtra | null)[],
  lists: readonly EventIdentifiers[],
  suppressed: Set<number>,
  idents: Map<string, Ident>,
): Promise<IdentityIds[]> {
  const out: IdentityIds[] = [];
  const traits = { owner: [] as number[], ts: [] as number[], msg: [] as string[], key: [] as string[] };
  const traitValues: { value: (string | null)[]; once: boolean[] } = { value: [], once: [] };
  lists.forEach((list, i) => {
    if (suppressed.has(i)) {
      out.push(null);
      return;
    }
    const e = events[i] as IdentityInput;
    const idOf = (x: { k: string } | null) => (x ? (idents.get(x.k) as Ident).id : null);
    const user = idOf(list.user);
    const anon = idOf(list.anon);
    out.push({ anon, user });
    const owner = user ?? anon;
    if (owner === null) return;
    for (const [key, value, once] of extras[i]?.w ?? []) {
      traits.owner.push(owner);
      traits.ts.push(e.ts);
      traits.msg.push(e.messageId);
      traits.key.push(key);
      traitValues.value.push(value);
      traitValues.once.push(once === 1);
    }
  });
  if (traits.owner.length > 0) {
    await c.query(
      `INSERT INTO trait_writes (identifier_id, ts, message_id, key, value, set_once)
       SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::boolean[])`,
      [
        int8Array(traits.owner),
        int8Array(traits.ts),
        textArray(traits.msg),
        textArray(traits.key),
        textArray(traitValues.value),
        boolArray(traitValues.once),
      ],
    );
  }
  return out;
}
