#!/usr/bin/env node
// npm run bench:ingest — collector (fresh SQLite) vs a bare node:http JSON.parse server, same run,
// same load generator, 127.0.0.1. Prints events/s, p50/p99 and the collector/baseline ratio, and
// the collector's throughput curve while the table grows to >= 1M events. Bounded in time.
// `--db postgres [--processes 1,2]`: SQLite vs 1..N collector processes on one PostgreSQL (ingest-postgres.mjs).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { identityCatchUpMs } from './lib/collector-process.mjs';
import { drive } from './lib/load.mjs';

if (process.argv.includes('--db') && process.argv[process.argv.indexOf('--db') + 1] === 'postgres') {
  const { runPostgresBench } = await import('./ingest-postgres.mjs');
  await runPostgresBench(process.argv.slice(2));
  process.exit(0);
}

const WRITE_KEY = 'wk_bench_write_key';
const auth = `Basic ${Buffer.from(`${WRITE_KEY}:`).toString('base64')}`;
const LEVELS = (process.env.BENCH_CONCURRENCY ?? '10,50').split(',').map(Number);
const TARGET_EVENTS = Number(process.env.BENCH_EVENTS ?? 1_000_000);
const PHASE_MS = Number(process.env.BENCH_PHASE_MS ?? 5_000);
// The sustained run sends at least this many: on a fast day the probes alone store 1M events,
// and a run of what is left to the target measured nothing (it printed a ratio of 0.00).
const SUSTAINED_MIN = Number(process.env.BENCH_SUSTAINED_MIN ?? 400_000);
const MAX_MS = Number(process.env.BENCH_MAX_MS ?? 180_000);

function start(cmd, args, env, pattern) {
  const child = spawn(process.execPath, [cmd, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const m = pattern.exec(out);
      if (m) resolve({ child, port: Number(m[1]) });
    });
    child.once('exit', (code) => reject(new Error(`${cmd} exited ${code}: ${out}`)));
  });
}

const fmt = (n) => Math.round(n).toLocaleString('en-US');
const row = (name, c, r) =>
  `${name.padEnd(10)} c=${String(c).padEnd(4)} ${fmt(r.eventsPerSec).padStart(9)} ev/s  p50 ${r.p50.toFixed(1).padStart(6)} ms  p99 ${r.p99.toFixed(1).padStart(6)} ms  (${fmt(r.events)} events, ${r.errors} non-200)`;

const dir = mkdtempSync(join(tmpdir(), 'kimlik-bench-'));
const db = join(dir, 'kimlik.db');
const results = { baseline: {}, collector: {} };
try {
  const base = await start(fileURLToPath(new URL('./baseline-server.mjs', import.meta.url)), [], {}, /LISTENING (\d+)/);
  for (const c of LEVELS) {
    results.baseline[c] = await drive({
      url: `http://127.0.0.1:${base.port}`,
      auth,
      concurrency: c,
      maxEvents: Number.POSITIVE_INFINITY,
      maxMs: PHASE_MS,
    });
    console.log(row('baseline', c, results.baseline[c]));
  }
  base.child.kill();

  const collector = await start(
    fileURLToPath(new URL('../collector/dist/bin/kimlik-collector.js', import.meta.url)),
    [],
    {
      PORT: '0',
      HOST: '127.0.0.1',
      KIMLIK_DATABASE: db,
      KIMLIK_WRITE_KEY: WRITE_KEY,
      KIMLIK_ADMIN_KEY: 'ak_bench_admin_key',
      KIMLIK_LOG_LEVEL: 'info',
      KIMLIK_DEMO: 'false',
    },
    /"address":"http:\/\/127\.0\.0\.1:(\d+)"/,
  ).catch(async () => null);
  if (!collector) throw new Error('collector did not start (run `npm run build` first)');
  const url = `http://127.0.0.1:${collector.port}`;
  let stored = 0;
  for (const c of LEVELS) {
    results.collector[c] = await drive({
      url,
      auth,
      concurrency: c,
      maxEvents: Number.POSITIVE_INFINITY,
      maxMs: PHASE_MS,
    });
    stored += results.collector[c].events;
    console.log(row('collector', c, results.collector[c]));
  }
  // Sustained run to >= 1M stored events at the best level, recording the curve per 100k.
  const best = LEVELS.reduce((a, b) =>
    results.collector[a].eventsPerSec >= results.collector[b].eventsPerSec ? a : b,
  );
  const curve = [];
  const before = stored;
  let mark = Math.ceil(stored / 100_000) * 100_000 || 100_000;
  let lastT = 0;
  let lastN = 0;
  const sustained = await drive({
    url,
    auth,
    concurrency: best,
    maxEvents: Math.max(SUSTAINED_MIN, TARGET_EVENTS - stored),
    maxMs: MAX_MS,
    onProgress: (n, ms) => {
      if (stored + n >= mark) {
        curve.push({ tableSize: stored + n, eventsPerSec: ((n - lastN) / (ms - lastT)) * 1000 });
        lastN = n;
        lastT = ms;
        mark += 100_000;
      }
    },
  });
  stored += sustained.events;
  // Events count once resolved: identity catch-up after the last ack is part of the elapsed time.
  const catchUp = await identityCatchUpMs(url);
  sustained.eventsPerSec = sustained.events / (sustained.seconds + catchUp / 1000);
  console.log(row('sustained', best, sustained), `(incl. ${catchUp.toFixed(0)} ms identity catch-up)`);
  console.log('\ncollector throughput as the table grows (window of ~100k events each):');
  for (const p of curve)
    console.log(`  at ${fmt(p.tableSize).padStart(9)} events stored: ${fmt(p.eventsPerSec).padStart(8)} ev/s`);
  collector.child.kill('SIGTERM');
  await new Promise((r) => collector.child.once('exit', r));
  const bytes = statSync(db).size;
  const baseBest = Math.max(...LEVELS.map((c) => results.baseline[c].eventsPerSec));
  console.log('\nsummary');
  console.log(`  events stored:            ${fmt(stored)}`);
  console.log(`  baseline best:            ${fmt(baseBest)} ev/s`);
  console.log(
    `  collector sustained:      ${fmt(sustained.eventsPerSec)} ev/s over ${fmt(sustained.events)} events (c=${best}, the table from ${fmt(before)} to ${fmt(stored)} events)`,
  );
  console.log(`  ratio collector/baseline: ${(sustained.eventsPerSec / baseBest).toFixed(2)} (target >= 0.30)`);
  for (const c of LEVELS) {
    console.log(
      `  ratio at c=${c}:            ${(results.collector[c].eventsPerSec / results.baseline[c].eventsPerSec).toFixed(2)}`,
    );
  }
  console.log(
    `  database size:            ${(bytes / 1024 / 1024).toFixed(0)} MiB (${fmt(bytes / Math.max(1, stored / 1e6))} bytes per million events... ${(bytes / stored) | 0} B/event)`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
