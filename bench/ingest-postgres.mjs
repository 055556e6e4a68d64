// npm run bench:ingest -- --db postgres [--processes 1,2]
// The same load generator against: one collector on SQLite (the baseline of this run), then 1..N
// collector processes on one PostgreSQL (a fresh schema each), the load spread round robin over
// them as a load balancer would. Prints events/s and p50/p99 per level and the ratios. Bounded:
// every phase lasts BENCH_PHASE_MS.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { benchAuth, startCollector } from './lib/collector-process.mjs';
import { drive } from './lib/load.mjs';

export async function runPostgresBench(argv) {
  const arg = (name, fallback) => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 && argv[i + 1] ? argv[i + 1] : fallback;
  };
  const PROCESSES = arg('processes', '1,2').split(',').map(Number);
  const LEVELS = (process.env.BENCH_CONCURRENCY ?? '10,50').split(',').map(Number);
  const PHASE_MS = Number(process.env.BENCH_PHASE_MS ?? 8_000);
  const base =
    process.env.KIMLIK_BENCH_POSTGRES_URL ??
    process.env.KIMLIK_TEST_POSTGRES_URL ??
    'postgres://kimlik:kimlik@127.0.0.1:5432/kimlik_test';

  const fmt = (n) => Math.round(n).toLocaleString('en-US');
  const row = (name, c, r) =>
    `${name.padEnd(18)} c=${String(c).padEnd(4)} ${fmt(r.eventsPerSec).padStart(9)} ev/s  p50 ${r.p50.toFixed(1).padStart(6)} ms  p99 ${r.p99.toFixed(1).padStart(6)} ms  (${fmt(r.events)} events, ${r.errors} non-200)`;

  const phases = async (name, urls) => {
    const out = {};
    for (const c of LEVELS) {
      out[c] = await drive({
        url: urls,
        auth: benchAuth,
        concurrency: c,
        maxEvents: Number.POSITIVE_INFINITY,
        maxMs: PHASE_MS,
      });
      console.log(row(name, c, out[c]));
    }
    return out;
  };
  const best = (r) => LEVELS.map((c) => ({ c, ...r[c] })).reduce((a, b) => (a.eventsPerSec >= b.eventsPerSec ? a : b));

  const dir = mkdtempSync(join(tmpdir(), 'kimlik-bench-'));
  const results = {};
  try {
    const sqlite = await startCollector({ KIMLIK_DATABASE: join(dir, 'kimlik.db') });
    results.sqlite = await phases('sqlite 1 process', [sqlite.url]);
    await sqlite.stop();

    for (const n of PROCESSES) {
      const url = new URL(base);
      const schema = `bench_${randomBytes(4).toString('hex')}`;
      url.searchParams.set('schema', schema);
      const procs = await Promise.all(
        Array.from({ length: n }, () => startCollector({ KIMLIK_DATABASE: url.toString() })),
      );
      try {
        results[n] = await phases(
          `postgres ${n} proc${n > 1 ? 's' : ''}`,
          procs.map((p) => p.url),
        );
      } finally {
        await Promise.all(procs.map((p) => p.stop()));
        const admin = new pg.Client({ connectionString: base });
        await admin.connect();
        await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
        await admin.end();
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  const s = best(results.sqlite);
  console.log('\nsummary (best level of each)');
  console.log(`  sqlite, 1 process:      ${fmt(s.eventsPerSec)} ev/s  p99 ${s.p99.toFixed(1)} ms (c=${s.c})`);
  for (const n of PROCESSES) {
    const p = best(results[n]);
    console.log(
      `  postgres, ${n} process${n > 1 ? 'es' : '  '}: ${fmt(p.eventsPerSec).padStart(6)} ev/s  p99 ${p.p99.toFixed(1)} ms (c=${p.c})  = ${(p.eventsPerSec / s.eventsPerSec).toFixed(2)}x sqlite`,
    );
  }
  if (results[1] && PROCESSES.length > 1) {
    const one = best(results[1]).eventsPerSec;
    for (const n of PROCESSES.filter((x) => x > 1)) {
      console.log(`  scaling 1 → ${n} processes: ${(best(results[n]).eventsPerSec / one).toFixed(2)}x`);
    }
  }
  const two = results[2] ? best(results[2]).eventsPerSec / s.eventsPerSec : null;
  if (two !== null) console.log(`  target: postgres 2 processes >= 0.70x sqlite 1 process → ${two.toFixed(2)}x`);
}
