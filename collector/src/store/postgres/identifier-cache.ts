import { BoundedMap } from '../bounded-map.js';
import type { Db } from './connection.js';
import { earlier, type Want } from './event-identifiers.js';

/** A process's upper bound of what the database records for one identifier. */
interface Known {
  id: number;
  /** At or after the recorded first sighting: sightings here or later cannot move it. */
  ts: number;
  msg: string;
  /** False only once the identifier is known to be real (alias_only never comes back). */
  aliasOnly: boolean;
}

/** Entries kept, the recently used ones (a miss costs one index probe, as without the cache). */
const LIMIT = 500_000;
const STAMP_KEY = 'identifier_caches';

/**
 * Identifiers this collector process has resolved, so that an identity batch of known people
 * sends no lookup at all (on the ingest benchmark that lookup was a third of PostgreSQL's time).
 *
 * Why it is safe with other processes writing: an identifier's id never changes while it exists,
 * its first sighting only moves earlier and alias_only only goes from true to false, so an entry
 * stays an upper bound — a sighting that is not earlier than it, and not the first in an event's
 * own field of an alias-only identifier, needs no write, and anything else is asked. Only an
 * erasure breaks those rules (it deletes identifiers and moves a shared device's first sighting
 * later): it bumps a stamp (`invalidate`), and every batch reads the stamp under the erasure lock
 * and starts over when it changed. Entries a batch learns are kept only once its transaction
 * commits (`begin`/`keep`): a rolled-back batch's new identifiers do not exist.
 */
export class IdentifierCache {
  #known = new BoundedMap<string, Known>(LIMIT);
  #staged: [string, Known][] = [];
  #stamp: string | null | undefined;

  /** Starts a transaction's attempt: what an earlier attempt learned is forgotten. */
  begin(): void {
    this.#staged = [];
  }

  /** After the commit: keeps what the transaction learned. */
  keep(): void {
    for (const [k, v] of this.#staged) this.#known.set(k, v);
    this.#staged = [];
  }

  /** Reads the erasure stamp (in the batch's transaction, under the erasure lock); a change empties the cache. */
  async check(c: Db): Promise<void> {
    const r = await c.query<{ value: string }>('SELECT value FROM settings WHERE key = $1', [STAMP_KEY]);
    const stamp = r.rows[0]?.value ?? null;
    if (stamp !== this.#stamp) this.#known = new BoundedMap(LIMIT);
    this.#stamp = stamp;
  }

  /** The identifier's id when this sighting changes nothing recorded; undefined when the database must be asked. */
  hit(k: string, w: Want): number | undefined {
    const c = this.#known.get(k);
    if (!c || earlier(w.ts, w.msg, c) || (c.aliasOnly && !w.alias)) return undefined;
    return c.id;
  }

  /** What the database holds after this batch: a first sighting at or before `w`, alias-only at most if `w` was. */
  stage(k: string, id: number, w: Want): void {
    this.#staged.push([k, { id, ts: w.ts, msg: w.msg, aliasOnly: w.alias }]);
  }
}

/** In an erasure's transaction: every process's cache starts over at its next batch. */
export async function invalidateIdentifierCaches(c: Db): Promise<void> {
  await c.query(
    `INSERT INTO settings (key, value) VALUES ($1, '1')
     ON CONFLICT (key) DO UPDATE SET value = (settings.value::bigint + 1)::text`,
    [STAMP_KEY],
  );
}
