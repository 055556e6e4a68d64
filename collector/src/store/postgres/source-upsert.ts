import type pg from 'pg';
import type { Source } from '../store.js';
import { inTransaction, lockXact, SOURCES_LOCK } from './connection.js';

/** Creates a source, or with an explicit id creates or replaces that one. */
export async function upsertSource(
  pool: pg.Pool,
  schema: string,
  source: Omit<Source, 'id'> & { id?: number },
): Promise<Source> {
  const origins = JSON.stringify(source.allowedOrigins);
  if (source.id !== undefined) {
    const id = source.id;
    await inTransaction(pool, async (c) => {
      // Collectors starting together upsert the same default source. ON CONFLICT (id) covers
      // only the id: when the write_key index is checked first, the second insert failed with a
      // unique violation (a benchmark start failed so; the test needs ~300 rounds) instead of
      // updating. One at a time.
      await lockXact(c, schema, SOURCES_LOCK);
      await c.query(
        `INSERT INTO sources (id, name, write_key, allowed_origins, created_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (id) DO UPDATE SET name = excluded.name, write_key = excluded.write_key,
           allowed_origins = excluded.allowed_origins`,
        [id, source.name, source.writeKey, origins, Date.now()],
      );
      // An explicit id does not advance the identity sequence; later sources must not reuse it.
      await c.query("SELECT setval(pg_get_serial_sequence('sources', 'id'), (SELECT max(id) FROM sources))");
    });
    return { ...source, id };
  }
  const r = await pool.query<{ id: number }>(
    'INSERT INTO sources (name, write_key, allowed_origins, created_at) VALUES ($1, $2, $3, $4) RETURNING id',
    [source.name, source.writeKey, origins, Date.now()],
  );
  return { ...source, id: r.rows[0]?.id as number };
}
