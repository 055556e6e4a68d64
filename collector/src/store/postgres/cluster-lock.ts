import { int8Array } from './binary-arrays.js';
import { readCluster } from './cluster-read.js';
import { type Db, identityConflict } from './connection.js';

/**
 * Locks every identifier of the clusters around `seeds` (row locks, in id order), re-reading the
 * clusters until they stop growing: afterwards no other transaction can change them until commit.
 * Of a cluster past the limit only the seeds are locked: it is not replayed (cluster-read.ts), and
 * an admin operation, which replays any cluster whole, locks all of it and so waits for the seeds.
 */
export async function lockClusterMembers(
  c: Db,
  seeds: Iterable<number>,
  maxClusterIdentifiers: number,
): Promise<Set<number>> {
  const start = new Set(seeds);
  const locked = new Set<number>();
  let read = await readCluster(c, start, maxClusterIdentifiers);
  for (;;) {
    const todo = [...read.ids]
      .filter((id) => !locked.has(id) && (start.has(id) || !read.oversized.has(id)))
      .sort((x, y) => x - y);
    if (todo.length === 0) return locked;
    const got = await c.query('SELECT id FROM identifiers WHERE id = ANY($1::bigint[]) ORDER BY id FOR UPDATE', [
      int8Array(todo),
    ]);
    // An identifier vanished while we waited: a concurrent erasure. Retried whole, the events
    // carrying it are then dropped as suppressed instead of linking to a deleted person.
    if (got.rows.length < todo.length) throw identityConflict('an identifier was erased while linking');
    for (const id of todo) locked.add(id);
    read = await readCluster(c, locked, maxClusterIdentifiers);
  }
}
