import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Collector, type CollectorOptions, createCollector, resolveOptions } from '../../collector/src/index.js';
import { dropTestDatabase, type TestStore } from './stores.js';

export const WRITE_KEY = 'wk_test_write_key';
export const ADMIN_KEY = 'ak_test_admin_key';

export interface TestCollector {
  url: string;
  writeKey: string;
  adminKey: string;
  dbPath: string;
  collector: Collector;
  /** Every stored event, oldest first (reads the admin API). */
  storedEvents(): Promise<Record<string, unknown>[]>;
  close(): Promise<void>;
}

export function tempDir(prefix = 'kimlik-test-'): { path: string; remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/**
 * A database for collector processes started one after another (`spawnCollector`): a SQLite file
 * in a temp dir, or a new PostgreSQL schema. Nothing removes it until `remove()`.
 */
export function keptDatabase(store: TestStore): { database: string; remove: () => Promise<void> } {
  const url = store.database();
  if (url) return { database: url, remove: () => dropTestDatabase(url) };
  const dir = tempDir();
  return { database: join(dir.path, 'kimlik.db'), remove: async () => dir.remove() };
}

/** Sends one batch with the write key; the answer must be 200 (its JSON is returned). */
export async function sendBatch(
  c: { url: string; writeKey: string },
  batch: Record<string, unknown>[],
): Promise<{ accepted: number }> {
  const res = await fetch(`${c.url}/v1/batch`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Basic ${btoa(`${c.writeKey}:`)}` },
    body: JSON.stringify({ batch }),
  });
  if (res.status !== 200) throw new Error(`POST /v1/batch answered ${res.status}: ${await res.text()}`);
  return (await res.json()) as { accepted: number };
}

/** Lists all stored events through `GET /v1/events`, following cursors; oldest first. */
export async function fetchStoredEvents(url: string, adminKey: string): Promise<Record<string, unknown>[]> {
  const all: Record<string, unknown>[] = [];
  let before: string | null = null;
  do {
    const q = before ? `&before=${before}` : '';
    const res = await fetch(`${url}/v1/events?limit=1000${q}`, { headers: { authorization: `Bearer ${adminKey}` } });
    if (!res.ok) throw new Error(`GET /v1/events answered ${res.status}: ${await res.text()}`);
    const page = (await res.json()) as { events: { event: Record<string, unknown> }[]; nextCursor: string | null };
    for (const e of page.events) all.push(e.event);
    before = page.nextCursor;
  } while (before);
  return all.reverse();
}

/**
 * An in-process collector on 127.0.0.1, a random port and a fresh SQLite file (or the database
 * given, e.g. a PostgreSQL schema from `TestStore.database()`, dropped on close).
 */
export async function startTestCollector(options: CollectorOptions = {}): Promise<TestCollector> {
  const dir = tempDir();
  const dbPath = options.database ?? join(dir.path, 'kimlik.db');
  const collector = await createCollector(
    resolveOptions({
      port: 0,
      host: '127.0.0.1',
      writeKey: WRITE_KEY,
      adminKey: ADMIN_KEY,
      logLevel: 'silent',
      ...options,
      database: dbPath,
    }),
  );
  await collector.app.listen({ port: 0, host: '127.0.0.1' });
  const port = (collector.app.server.address() as { port: number }).port;
  const url = `http://127.0.0.1:${port}`;
  const writeKey = options.writeKey ?? WRITE_KEY;
  const adminKey = options.adminKey ?? ADMIN_KEY;
  return {
    url,
    writeKey,
    adminKey,
    dbPath,
    collector,
    storedEvents: () => fetchStoredEvents(url, adminKey),
    async close() {
      await collector.close();
      dir.remove();
      await dropTestDatabase(options.database);
    },
  };
}

const BIN = fileURLToPath(new URL('../../collector/dist/bin/kimlik-collector.js', import.meta.url));

export interface CollectorProcess {
  url: string;
  child: ChildProcess;
  /** Resolves with the exit code/signal. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Everything it wrote to stdout and stderr so far (JSON log lines). */
  output(): string;
}

/**
 * The built collector as a child process (for kill -9 and SIGTERM tests, and SDK suites that need
 * a separate process). Listens on port 0; the URL is read from its log line.
 */
export async function spawnCollector(env: Record<string, string>): Promise<CollectorProcess> {
  const child = spawn(process.execPath, [BIN], {
    env: {
      ...process.env,
      PORT: '0',
      HOST: '127.0.0.1',
      KIMLIK_WRITE_KEY: WRITE_KEY,
      KIMLIK_ADMIN_KEY: ADMIN_KEY,
      KIMLIK_LOG_LEVEL: 'info',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  let out = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`collector did not start: ${out}`)), 20_000);
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /"address":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(out);
      if (m?.[1]) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.stderr?.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`collector exited with ${code}: ${out}`));
    });
  });
  return { url, child, exited, output: () => out };
}
