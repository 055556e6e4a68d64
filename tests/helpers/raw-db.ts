import Database from 'better-sqlite3';
import pg from 'pg';
import type { TestStore } from './stores.js';

/** SQL on the collector's database from a connection of the test's own (another process would do the same). */
export async function connectRaw(store: TestStore, database: string) {
  if (store.name === 'sqlite') {
    const db = new Database(database);
    return {
      exec: async (sql: string) => void db.exec(sql),
      rows: async (sql: string) => db.prepare(sql).all(),
      close: async () => db.close(),
    };
  }
  const url = new URL(database);
  const schema = url.searchParams.get('schema') as string;
  url.searchParams.delete('schema');
  const client = new pg.Client({ connectionString: url.toString() });
  await client.connect();
  await client.query(`SET search_path = ${schema}`);
  return {
    exec: async (sql: string) => void (await client.query(sql)),
    rows: async (sql: string) => (await client.query(sql)).rows,
    close: () => client.end(),
  };
}

/**
 * SQL that makes every insert into `table` whose `column` equals `value` fail, with the message
 * "injected": a real database error, the same on every retry, as a bug triggered by that row would.
 */
export function poisonTrigger(store: TestStore, table: string, column: string, value: string): string {
  if (store.name === 'sqlite') {
    return `CREATE TRIGGER poison BEFORE INSERT ON ${table} WHEN NEW.${column} = '${value}'
            BEGIN SELECT RAISE(ABORT, 'injected'); END`;
  }
  return `CREATE FUNCTION poison() RETURNS trigger LANGUAGE plpgsql AS $$
          BEGIN IF NEW.${column} = '${value}' THEN RAISE EXCEPTION 'injected'; END IF; RETURN NEW; END $$;
          CREATE TRIGGER poison BEFORE INSERT ON ${table} FOR EACH ROW EXECUTE FUNCTION poison()`;
}
