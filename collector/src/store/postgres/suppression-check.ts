import { addErasedPeriods, type ErasedPeriods, erasedPeriodOf } from '../../identity/erased-periods.js';
import { suppressionHash } from '../../identity/profile-id.js';
import { textArray } from './binary-arrays.js';
import type { Db } from './connection.js';
import type { EventIdentifiers, IdentityInput } from './event-identifiers.js';

/**
 * Whether anyone was ever erased, read every commit (another process may erase). Meant to be
 * sent before the commit's first answer is awaited (pipelined): the usual "no" then costs no
 * round trip of its own.
 */
/** As SQLite's (sqlite/identity-writer.ts): a userId identified on the device in (`from`, `ts`]. */
const CLAIMED_SINCE = `SELECT EXISTS (SELECT 1 FROM identifiers d WHERE d.type = 'anonymousId' AND d.value = $1 AND (
      EXISTS (SELECT 1 FROM device_identifies di WHERE di.device = d.id AND di.ts > $2 AND di.ts <= $3)
      OR EXISTS (SELECT 1 FROM links l JOIN identifiers u ON u.id = (CASE WHEN l.a = d.id THEN l.b ELSE l.a END)
        WHERE (l.a = d.id OR l.b = d.id) AND NOT l.detached AND u.type = 'userId' AND l.ts > $2 AND l.ts <= $3))) AS x`;

export function checkAnySuppressed(c: Db): Promise<boolean> {
  const any = c
    .query<{ x: boolean }>('SELECT EXISTS (SELECT 1 FROM suppressed) OR EXISTS (SELECT 1 FROM suppressed_periods) AS x')
    .then((r) => r.rows[0]?.x === true);
  // Awaited by process(); when the commit fails before that, this must not be an unhandled rejection.
  any.catch(() => undefined);
  return any;
}

/**
 * Events of an erased person: carrying one of their identifiers, or only a shared device they
 * leave behind, timed in their periods on it (erased-periods.ts). `events[i]` goes with `lists[i]`.
 */
export async function suppressedEvents(
  c: Db,
  salt: string,
  lists: readonly Pick<EventIdentifiers, 'ids'>[],
  events: readonly Pick<IdentityInput, 'anonymousId' | 'userId' | 'ts'>[],
): Promise<Set<number>> {
  const out = new Set<number>();
  const hashes = lists.map((l) => l.ids.map((i) => suppressionHash(salt, i.type, i.value)));
  const hit = await c.query<{ hash: string; from_ts: string | null; to_ts: string | null }>(
    `SELECT hash, NULL AS from_ts, NULL AS to_ts FROM suppressed WHERE hash = ANY($1::text[])
     UNION ALL SELECT hash, from_ts::text, to_ts::text FROM suppressed_periods WHERE hash = ANY($1::text[])`,
    [textArray([...new Set(hashes.flat())])],
  );
  if (hit.rows.length === 0) return out;
  const erased = new Set<string>();
  const periods: ErasedPeriods = new Map();
  for (const r of hit.rows) {
    if (r.from_ts === null) erased.add(r.hash);
    else addErasedPeriods(periods, [[r.hash, Number(r.from_ts), Number(r.to_ts)]]);
  }
  for (let i = 0; i < hashes.length; i++) {
    if ((hashes[i] as string[]).some((h) => erased.has(h))) {
      out.add(i);
      continue;
    }
    const e = events[i] as Pick<IdentityInput, 'anonymousId' | 'userId' | 'ts'>;
    const from = erasedPeriodOf(periods, salt, e.anonymousId, e.userId, e.ts);
    // Rare (an erased person's device): one question each.
    if (from === undefined) continue;
    const claimed = await c.query<{ x: boolean }>(CLAIMED_SINCE, [e.anonymousId, from, e.ts]);
    if (!claimed.rows[0]?.x) out.add(i);
  }
  return out;
}
