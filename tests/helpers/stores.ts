import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { describe } from 'vitest';

/**
 * The stores every storage-contract suite runs against: SQLite always, PostgreSQL when
 * `KIMLIK_TEST_POSTGRES_URL` names a database (`.ci/run` starts one and sets it). In CI a missing
 * PostgreSQL is an error, never a skip.
 */
export interface TestStore {
  name: 'sqlite' | 'postgres';
  /** Why the store's suites are skipped here; undefined when they run. */
  skipReason: string | undefined;
  /**
   * A fresh, empty database for one collector: undefined for SQLite (the test collector makes a
   * temp file), a URL with a new schema for PostgreSQL (dropped by `dropTestDatabase`).
   */
  database(): string | undefined;
}

export const POSTGRES_URL = process.env.KIMLIK_TEST_POSTGRES_URL || undefined;
const HOW_TO =
  'set KIMLIK_TEST_POSTGRES_URL=postgres://kimlik:kimlik@127.0.0.1:5432/kimlik_test (a PostgreSQL 15 database; .ci/run creates one)';

if (!POSTGRES_URL && process.env.CI === 'true') {
  throw new Error(
    `CI=true but KIMLIK_TEST_POSTGRES_URL is not set: the PostgreSQL suites are mandatory in CI; ${HOW_TO}`,
  );
}

if (!POSTGRES_URL) {
  // Once per test file that runs store suites: the skipped PostgreSQL suites say how to enable them.
  console.warn(`PostgreSQL store suites skipped: ${HOW_TO}`);
}

/** A URL to a new schema (created by the collector's migrations) in the test database. */
export function postgresTestUrl(prefix = 'kt'): string {
  const url = new URL(POSTGRES_URL as string);
  url.searchParams.set('schema', `${prefix}_${randomBytes(6).toString('hex')}`);
  return url.toString();
}

export const TEST_STORES: readonly TestStore[] = [
  { name: 'sqlite', skipReason: undefined, database: () => undefined },
  {
    name: 'postgres',
    skipReason: POSTGRES_URL ? undefined : `PostgreSQL not configured: ${HOW_TO}`,
    database: () => postgresTestUrl(),
  },
];

/** `describe` once per store; a store that is not available shows up as skipped with the reason. */
export function describeStores(title: string, fn: (store: TestStore) => void): void {
  for (const store of TEST_STORES) {
    if (store.skipReason) describe.skip(`${title} [${store.name}] (skipped: ${store.skipReason})`, () => fn(store));
    else describe(`${title} [${store.name}]`, () => fn(store));
  }
}

/** Drops the schema of a test PostgreSQL URL made by `postgresTestUrl`; nothing for a file path. */
export async function dropTestDatabase(database: string | undefined): Promise<void> {
  if (!database || !/^postgres(ql)?:/.test(database)) return;
  const url = new URL(database);
  const schema = url.searchParams.get('schema');
  if (!schema || !/^[a-z]+_[0-9a-f]{12}$/.test(schema)) return;
  url.searchParams.delete('schema');
  const client = new pg.Client({ connectionString: url.toString() });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  } finally {
    await client.end();
  }
}

/** `describe` for suites that only make sense on PostgreSQL (several processes on one database). */
export function describePostgres(title: string, fn: () => void): void {
  const pg = TEST_STORES[1] as TestStore;
  if (pg.skipReason) describe.skip(`${title} (skipped: ${pg.skipReason})`, fn);
  else describe(title, fn);
}
