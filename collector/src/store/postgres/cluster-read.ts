import type { ResolverLink } from '../../identity/resolve.js';
import { int8Array } from './binary-arrays.js';
import type { Db } from './connection.js';

export interface ClusterRead {
  /** Every identifier read: the clusters around the seeds, and what was read of oversized ones. */
  ids: Set<number>;
  links: ResolverLink[];
  /** Identifiers of clusters larger than the limit, read in part: they must not be replayed. */
  oversized: Set<number>;
  /** The seeds that are hubs (resolve.ts, hubReason): each a cluster of its own. */
  hubs: Set<number>;
}

/**
 * The clusters around `seeds` (identifiers reachable through any link), with their links, read
 * level by level (one query per level: clusters are shallow). The limit is per cluster, not per
 * read: a batch touching thousands of small clusters reads each whole. A cluster past the limit
 * stops growing where it is and is reported as oversized, since a replay of part of a cluster
 * would attribute its identifiers from a partial view (gluing people together). A hub is never
 * walked into or through: a seed that is one is a cluster of its own.
 */
export async function readCluster(c: Db, seeds: Iterable<number>, maxClusterIdentifiers: number): Promise<ClusterRead> {
  const ids = new Set<number>(seeds);
  // Few identifiers are hubs (a partial index lists them): all of them are read.
  const allHubs = new Set(
    (await c.query<{ id: number }>('SELECT id FROM identifiers WHERE hub')).rows.map((row) => row.id),
  );
  const links = new Map<string, ResolverLink>();
  const parent = new Map<number, number>();
  const size = new Map<number, number>();
  const find = (x: number): number => {
    let r = x;
    while (parent.has(r)) r = parent.get(r) as number;
    while (x !== r) {
      const next = parent.get(x) as number;
      parent.set(x, r);
      x = next;
    }
    return r;
  };
  const union = (x: number, y: number) => {
    const [rx, ry] = [find(x), find(y)];
    if (rx === ry) return;
    const [big, small] = (size.get(rx) ?? 1) >= (size.get(ry) ?? 1) ? [rx, ry] : [ry, rx];
    parent.set(small, big);
    size.set(big, (size.get(big) ?? 1) + (size.get(small) ?? 1));
  };
  const tooBig = (id: number) => (size.get(find(id)) ?? 1) > maxClusterIdentifiers;
  let frontier = [...ids].filter((id) => !allHubs.has(id));
  while (frontier.length > 0) {
    // Per identifier at most limit + 1 links each way: more make its cluster oversized anyway,
    // and a hub (a kiosk's device) may have hundreds of thousands.
    const r = await c.query<{ a: number; b: number; ts: number; message_id: string; detached: boolean }>(
      `SELECT l.* FROM unnest($1::bigint[]) AS f(id) CROSS JOIN LATERAL (
         (SELECT a, b, ts, message_id, detached FROM links WHERE a = f.id LIMIT $2)
         UNION ALL
         (SELECT a, b, ts, message_id, detached FROM links WHERE b = f.id LIMIT $2)
       ) AS l`,
      [int8Array(frontier), Number.isFinite(maxClusterIdentifiers) ? maxClusterIdentifiers + 1 : null],
    );
    const next: number[] = [];
    for (const row of r.rows) {
      const k = `${row.a}:${row.b}`;
      if (links.has(k) || allHubs.has(row.a) || allHubs.has(row.b)) continue;
      links.set(k, { a: row.a, b: row.b, ts: row.ts, messageId: row.message_id, detached: row.detached });
      for (const end of [row.a, row.b]) {
        if (ids.has(end)) continue;
        ids.add(end);
        next.push(end);
      }
      union(row.a, row.b);
    }
    // An oversized cluster stops growing: it is not replayed, so the rest of it is not needed.
    frontier = next.filter((id) => !tooBig(id));
  }
  const oversized = new Set([...ids].filter(tooBig));
  return { ids, links: [...links.values()], oversized, hubs: new Set([...ids].filter((id) => allHubs.has(id))) };
}
