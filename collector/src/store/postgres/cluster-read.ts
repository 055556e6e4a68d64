import type { ResolverLink } from '../../identity/resolve.js';
import { int8Array } from './binary-arrays.js';
import type { Db } from './connection.js';

/** Identifiers reachable from `seeds` through any link, with those links (two queries, whatever the depth). */
export async function readCluster(
  c: Db,
  seeds: Iterable<number>,
  maxClusterIdentifiers: number,
): Promise<{ ids: Set<number>; links: ResolverLink[] }> {
  const start = [...new Set(seeds)];
  const reached = await c.query<{ id: number }>(
    `WITH RECURSIVE reach(id) AS (
       SELECT unnest($1::bigint[])
       UNION
       SELECT CASE WHEN l.a = r.id THEN l.b ELSE l.a END FROM reach r JOIN links l ON l.a = r.id OR l.b = r.id
     )
     SELECT id FROM reach LIMIT $2`,
    [int8Array(start), maxClusterIdentifiers + start.length],
  );
  const ids = new Set<number>(reached.rows.map((r) => r.id));
  for (const id of start) ids.add(id);
  // Both ends of a cluster's link are in the cluster: one side is enough to find it.
  const r = await c.query<{ a: number; b: number; ts: number; message_id: string; detached: boolean }>(
    'SELECT a, b, ts, message_id, detached FROM links WHERE a = ANY($1::bigint[])',
    [int8Array([...ids])],
  );
  const links: ResolverLink[] = r.rows.map((row) => ({
    a: row.a,
    b: row.b,
    ts: row.ts,
    messageId: row.message_id,
    detached: row.detached,
  }));
  return { ids, links };
}
