import pg from 'pg';
import { refuseNewerSchema } from '../migrations/newer-schema.js';
import { POSTGRES_MIGRATIONS } from '../migrations/postgres.js';
import { IN_FAILED_TRANSACTION } from './pg-errors.js';

/** A pool or one checked-out client: both run queries. */
export type Db = pg.Pool | pg.PoolClient;

export interface PostgresTarget {
  /** The URL without Kimlik's own `schema` parameter. */
  connectionString: string;
  /** Schema holding Kimlik's tables (`?schema=` in the URL); created on first start. */
  schema: string;
}

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

export const isPostgresUrl = (database: string) => /^postgres(ql)?:\/\//i.test(database);

/** Splits `postgres://…?schema=name` into what pg understands and the schema Kimlik uses. */
export function parsePostgresUrl(database: string): PostgresTarget {
  const url = new URL(database);
  const schema = url.searchParams.get('schema') ?? 'public';
  if (!SCHEMA_NAME.test(schema)) {
    throw new RangeError(`schema must be a lower-case SQL identifier (letters, digits, _), got ${schema}`);
  }
  url.searchParams.delete('schema');
  return { connectionString: url.toString(), schema };
}

// int8 (ids, millisecond times) as numbers: every value Kimlik stores is below 2^53.
const INT8_OID = 20;
const types = {
  getTypeParser: ((oid: number, format?: string) =>
    oid === INT8_OID && format !== 'binary'
      ? (v: string) => Number(v)
      : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
};

export function createPool(target: PostgresTarget, max: number): pg.Pool {
  // `?application_name=` in the URL names this collector in pg_stat_activity (one name per host
  // or per benchmark run); an explicit pool option would override the URL's.
  const named = new URL(target.connectionString).searchParams.has('application_name');
  const pool = new pg.Pool({
    connectionString: target.connectionString,
    max,
    types,
    // While the database is down, requests fail fast (503) instead of queueing behind dead connects.
    connectionTimeoutMillis: 5000,
    idleTimeoutMillis: 30_000,
    options: `-c search_path=${target.schema}`,
    ...(named ? {} : { application_name: 'kimlik-collector' }),
  });
  // An idle client whose server went away emits 'error'; without a listener that would kill the
  // process. The pool drops that client and opens a fresh one on the next checkout.
  pool.on('error', () => undefined);
  return pool;
}

/**
 * A pooled client with an 'error' listener while checked out: a connection that dies between two
 * queries emits 'error' on the client, which would otherwise crash the process. The next query
 * fails instead, and `release` destroys the client.
 */
export async function checkout(pool: pg.Pool): Promise<pg.PoolClient & { failure?: Error }> {
  const client = (await pool.connect()) as pg.PoolClient & { failure?: Error };
  const onError = (err: Error) => {
    client.failure = err;
  };
  client.on('error', onError);
  const release = client.release.bind(client);
  client.release = (err?: Error | boolean) => {
    client.removeListener('error', onError);
    release(err ?? client.failure);
  };
  return client;
}

/** Serialization failures and deadlocks: the transaction is retried whole. */
export const isConflict = (err: unknown) => {
  const code = (err as { code?: unknown }).code;
  return code === '40001' || code === '40P01';
};

/** Retried whole by `inTransaction`, like a serialization failure. */
export const identityConflict = (message: string) => Object.assign(new Error(message), { code: '40001' });

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Hands over a statement sent without awaiting: the transaction's COMMIT leaves right behind it. */
export type Tail = (statement: Promise<unknown>) => void;

export interface TransactionOptions {
  /** Tries of a transaction aborted for a deadlock or a serialization failure. @defaultValue 20 */
  maxAttempts?: number;
  /**
   * How long each statement may wait for a lock (`SET LOCAL lock_timeout`); unset, as long as the
   * lock is held. A timed-out statement aborts the transaction (SQLSTATE 55P03): nothing commits.
   */
  lockTimeoutMs?: number;
}

/**
 * Runs `fn` in one transaction on one pooled connection, retrying it whole (after a short jittered
 * pause) when PostgreSQL aborted it for a deadlock or a serialization failure: two collectors
 * merging the same people is normal, never an error for the client.
 */
export async function inTransaction<T>(
  pool: pg.Pool,
  fn: (c: pg.PoolClient, tail: Tail) => Promise<T>,
  { maxAttempts = 20, lockTimeoutMs }: TransactionOptions = {},
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const client = await checkout(pool);
    // Pipelined while in the transaction: BEGIN leaves with the first statement (one round trip,
    // not two), and `fn` may send a statement before awaiting the previous one's answer.
    pipelined(client, true);
    const unreport = reportCauseForAborted(client);
    let broken: Error | undefined;
    try {
      const begin = client.query('BEGIN');
      begin.catch(() => undefined);
      const tails: Promise<unknown>[] = [];
      if (lockTimeoutMs !== undefined) {
        const set = client.query(`SET LOCAL lock_timeout = ${Math.ceil(lockTimeoutMs)}`);
        set.catch(() => undefined);
        tails.push(set);
      }
      const result = await fn(client, (statement) => {
        statement.catch(() => undefined);
        tails.push(statement);
      });
      // One round trip for the last statements and COMMIT. When one of them failed, the
      // transaction is aborted, COMMIT only ends it, and that statement's error is thrown here:
      // nothing is acknowledged.
      const commit = client.query('COMMIT');
      commit.catch(() => undefined);
      await begin;
      await Promise.all(tails);
      await commit;
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch((e: Error) => {
        // The connection itself failed: the pool must not hand it out again.
        broken = e;
      });
      if (isConflict(err) && attempt < maxAttempts) {
        await sleep(Math.random() * Math.min(200, 5 * 2 ** attempt));
        continue;
      }
      throw err;
    } finally {
      unreport();
      pipelined(client, false);
      client.release(broken);
    }
  }
}

/**
 * Until the returned function is called, a statement of `client` failing "current transaction is
 * aborted" (25P02) rejects with the error that aborted the transaction: with statements pipelined,
 * the one awaited first is often a later one (a suppression check sent behind the inserts), and
 * its 25P02 hid the cause (a lock timeout) from the 503 answer and the log, and its class from
 * retries (a deadlock) and from the data-error split (pg-errors.ts). Answers arrive in the order
 * the statements were sent, so the last other error seen is the cause (also after a rollback to
 * a savepoint: a 25P02 then follows a later failure).
 */
function reportCauseForAborted(client: pg.PoolClient): () => void {
  const query = client.query;
  let cause: unknown;
  const reporting = (...args: unknown[]): unknown => {
    const result: unknown = Reflect.apply(query, client, args);
    if (!(result instanceof Promise)) return result;
    return result.catch((err: unknown) => {
      if ((err as { code?: unknown } | null)?.code === IN_FAILED_TRANSACTION && cause !== undefined) throw cause;
      cause = err;
      throw err;
    });
  };
  client.query = reporting as typeof client.query;
  return () => {
    client.query = query;
  };
}

/** pg's pipeline mode (sent without waiting for the previous answer), switched per checkout. */
function pipelined(client: pg.PoolClient, on: boolean): void {
  (client as pg.PoolClient & { pipeline: boolean }).pipeline = on;
}

/** First key of Kimlik's advisory locks (plus the lock's number); the second is the schema's hash. */
const LOCK_NAMESPACE = 0x4b494d4c; // "KIML"
export const MIGRATION_LOCK = 1;
export const PARTITION_LOCK = 2;
export const SOURCES_LOCK = 3;
/** Identity batches take it shared, erasures exclusive (see PgIdentityWriter.excludeErasures). */
export const ERASURE_LOCK = 4;

/**
 * Applies pending migrations, each in its own transaction, under an advisory lock: collectors
 * starting together wait for the first one, then find nothing left to do.
 */
export async function migrate(pool: pg.Pool, schema: string): Promise<string[]> {
  const c = await checkout(pool);
  try {
    await c.query('SELECT pg_advisory_lock($1, hashtext($2))', [LOCK_NAMESPACE + MIGRATION_LOCK, schema]);
    try {
      await c.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
      await c.query(`SET search_path TO ${schema}`);
      await c.query(
        'CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at bigint NOT NULL)',
      );
      const applied = new Set(
        (await c.query<{ version: number }>('SELECT version FROM schema_migrations')).rows.map((r) => r.version),
      );
      refuseNewerSchema(applied, POSTGRES_MIGRATIONS, `The PostgreSQL schema ${schema}`);
      const done: string[] = [];
      for (const m of POSTGRES_MIGRATIONS) {
        if (applied.has(m.version)) continue;
        await c.query('BEGIN');
        try {
          await c.query(m.sql);
          await c.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [
            m.version,
            m.name,
            Date.now(),
          ]);
          await c.query('COMMIT');
        } catch (err) {
          await c.query('ROLLBACK');
          throw err;
        }
        done.push(`${m.version} ${m.name}`);
      }
      return done;
    } finally {
      await c.query('SELECT pg_advisory_unlock($1, hashtext($2))', [LOCK_NAMESPACE + MIGRATION_LOCK, schema]);
    }
  } finally {
    c.release();
  }
}

/** Takes one of Kimlik's transaction-scoped advisory locks for this schema. */
export async function lockXact(
  c: pg.PoolClient,
  schema: string,
  lock: number,
  mode: 'shared' | 'exclusive' = 'exclusive',
): Promise<void> {
  const fn = mode === 'shared' ? 'pg_advisory_xact_lock_shared' : 'pg_advisory_xact_lock';
  await c.query(`SELECT ${fn}($1, hashtext($2))`, [LOCK_NAMESPACE + lock, schema]);
}
