import { suppressionHash } from '../../identity/profile-id.js';
import { textArray } from './binary-arrays.js';
import type { Db } from './connection.js';
import type { EventIdentifiers } from './event-identifiers.js';

/**
 * Whether anyone was ever erased, read every commit (another process may erase). Meant to be
 * sent before the commit's first answer is awaited (pipelined): the usual "no" then costs no
 * round trip of its own.
 */
export function checkAnySuppressed(c: Db): Promise<boolean> {
  const any = c
    .query<{ x: boolean }>('SELECT EXISTS (SELECT 1 FROM suppressed) AS x')
    .then((r) => r.rows[0]?.x === true);
  // Awaited by process(); when the commit fails before that, this must not be an unhandled rejection.
  any.catch(() => undefined);
  return any;
}

/** Events carrying an identifier of an erased person. */
export async function suppressedEvents(
  c: Db,
  salt: string,
  lists: readonly Pick<EventIdentifiers, 'ids'>[],
): Promise<Set<number>> {
  const out = new Set<number>();
  const hashes = lists.map((l) => l.ids.map((i) => suppressionHash(salt, i.type, i.value)));
  const hit = await c.query<{ hash: string }>('SELECT hash FROM suppressed WHERE hash = ANY($1::text[])', [
    textArray([...new Set(hashes.flat())]),
  ]);
  if (hit.rows.length === 0) return out;
  const erased = new Set(hit.rows.map((r) => r.hash));
  hashes.forEach((hs, i) => {
    if (hs.some((h) => erased.has(h))) out.add(i);
  });
  return out;
}
