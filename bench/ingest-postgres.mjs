// npm run bench:ingest -- --db postgres [--processes 1,2] [--rounds 3]   (BENCH_PERSONS=2000: a known population)
// The same load generator against: one collector on SQLite (the baseline of this run), and 1..N
// collector processes on one PostgreSQL (a fresh schema each), the load spread round robin over
// them as a load balancer would. Prints events/s and p50/p99 per level and the ratios, and the CPU
// time spent per event by the load generator, the collectors and (when PostgreSQL runs on this
// host) their PostgreSQL backends: on a machine shared with other work, CPU per event moves far
// less than events/s. Bounded: every phase lasts BENCH_PHASE_MS.
//
// The configurations take turns, round after round (SQLite, PostgreSQL 1, PostgreSQL 2, SQLite, …),
// each on its own database that keeps growing, and the ratios are the medians of each round's
// pair: measured one after the other only once, a VM whose speed drifts by tens of percent over a
// minute moved the ratio from 0.48x to 0.82x between two runs of the same code.
import { execSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { benchAuth, startCollector } from './lib/collector-process.mjs';
import { drive, makeBatch } from './lib/load.mjs';

export async function runPostgresBench(argv) {
  const arg = (name, fallback) => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 && argv[i + 1] ? argv[i + 1] : fallback;
  };
  const PROCESSES = arg('processes', '1,2').split(',').map(Number);
  const ROUNDS = Math.max(1, Number(arg('rounds', process.env.BENCH_ROUNDS ?? '3')));
  const LEVELS = (process.env.BENCH_CONCURRENCY ?? '10,50').split(',').map(Number);
  const PHASE_MS = Number(process.env.BENCH_PHASE_MS ?? 8_000);
  // Distinct anonymous IDs: 200 000 by default (most events create an identifier); a few thousand
  // measures the read-mostly path of a known population.
  const PERSONS = Number(process.env.BENCH_PERSONS ?? 200_000);
  const base =
    process.env.KIMLIK_BENCH_POSTGRES_URL ??
    process.env.KIMLIK_TEST_POSTGRES_URL ??
    'postgres://kimlik:kimlik@127.0.0.1:5432/kimlik_test';

  const fmt = (n) => Math.round(n).toLocaleString('en-US');
  // CPU time of a process (all its threads) from /proc, in ms; null where /proc cannot tell.
  const ticksPerSec = (() => {
    try {
      return Number(execSync('getconf CLK_TCK').toString()) || 100;
    } catch {
      return 100;
    }
  })();
  const cpuMs = (pid) => {
    try {
      const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
      return ((Number(f[11]) + Number(f[12])) * 1000) / ticksPerSec;
    } catch {
      return null;
    }
  };
  // The PostgreSQL backends of this run's collectors, found by the application_name in their URL.
  const backendPids = async (appName) => {
    if (!appName) return [];
    const c = new pg.Client({ connectionString: base });
    await c.connect();
    try {
      return (await c.query('SELECT pid FROM pg_stat_activity WHERE application_name = $1', [appName])).rows.map(
        (r) => r.pid,
      );
    } finally {
      await c.end();
    }
  };
  const cpuSnapshot = async (pids, appName) => {
    const at = new Map();
    for (const pid of [...pids, ...(await backendPids(appName))]) at.set(pid, cpuMs(pid));
    return { at, self: process.cpuUsage() };
  };
  // Per event: load generator, collectors, backends (a backend opened during the phase counts whole).
  const cpuPerEvent = async (before, pids, appName, events) => {
    const self = process.cpuUsage(before.self);
    const sum = (list) => {
      let total = 0;
      for (const pid of list) {
        const now = cpuMs(pid);
        if (now === null) return null;
        total += now - (before.at.get(pid) ?? 0);
      }
      return total;
    };
    const backends = await backendPids(appName);
    const per = (ms) => (ms === null ? null : (ms * 1000) / Math.max(1, events));
    const out = {
      load: per((self.user + self.system) / 1000),
      collectors: per(sum(pids)),
      backends: appName ? per(backends.length > 0 ? sum(backends) : null) : 0,
    };
    out.total = out.collectors === null || out.backends === null ? null : out.load + out.collectors + out.backends;
    return out;
  };
  const us = (v) => (v === null ? 'n/a' : v.toFixed(1));
  const cpuRow = (c) =>
    `${''.padEnd(18)} CPU µs/event: load generator ${us(c.load)}, collectors ${us(c.collectors)}, PostgreSQL backends ${us(c.backends)}, total ${us(c.total)}`;
  const row = (name, c, r) =>
    `${name.padEnd(18)} c=${String(c).padEnd(4)} ${fmt(r.eventsPerSec).padStart(9)} ev/s  p50 ${r.p50.toFixed(1).padStart(6)} ms  p99 ${r.p99.toFixed(1).padStart(6)} ms  (${fmt(r.events)} events, ${r.errors} non-200)`;

  // Identity is applied after the commit (at most ~1 s behind): a phase is over once the events it
  // stored have their identity too, so CPU per event includes that work, and the catch-up time is
  // printed beside events/s. Bounded: a backlog still there after 60 s is reported, not waited for.
  const identityCaughtUp = async (schema) => {
    const c = new pg.Client({ connectionString: base });
    await c.connect();
    try {
      const started = performance.now();
      for (;;) {
        const left = Number((await c.query(`SELECT count(*) AS n FROM ${schema}.identity_pending`)).rows[0].n);
        if (left === 0) return { ms: performance.now() - started, left };
        if (performance.now() - started > 60_000) return { ms: performance.now() - started, left };
        await new Promise((r) => setTimeout(r, 20));
      }
    } finally {
      await c.end();
    }
  };
  const phases = async (name, urls, pids, appName, schema) => {
    const out = {};
    for (const c of LEVELS) {
      const before = await cpuSnapshot(pids, appName);
      out[c] = await drive({
        url: urls,
        auth: benchAuth,
        concurrency: c,
        maxEvents: Number.POSITIVE_INFINITY,
        maxMs: PHASE_MS,
        makeBody: (size, seq) => makeBatch(size, seq, PERSONS),
      });
      const catchUp = schema ? await identityCaughtUp(schema) : null;
      out[c].cpu = await cpuPerEvent(before, pids, appName, out[c].events);
      console.log(row(name, c, out[c]));
      console.log(cpuRow(out[c].cpu));
      if (catchUp) {
        const withIdentity = (out[c].events * 1000) / (PHASE_MS + catchUp.ms);
        console.log(
          `${''.padEnd(18)} identity caught up ${catchUp.ms.toFixed(0)} ms after the phase${catchUp.left > 0 ? ` (NOT: ${fmt(catchUp.left)} events still pending)` : ''}; ${fmt(withIdentity)} ev/s counting that time`,
        );
      }
    }
    return out;
  };
  const best = (r) => LEVELS.map((c) => ({ c, ...r[c] })).reduce((a, b) => (a.eventsPerSec >= b.eventsPerSec ? a : b));

  const median = (xs) => {
    const v = xs.filter((x) => x !== null && x !== undefined).sort((x, y) => x - y);
    if (v.length === 0) return null;
    const m = Math.floor(v.length / 2);
    return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
  };

  const dir = mkdtempSync(join(tmpdir(), 'kimlik-bench-'));
  const loadAtStart = loadavg()[0];
  // Every configuration runs all the time (an idle collector costs nothing), so that they can take turns.
  const configs = [];
  const schemas = [];
  try {
    const sqlite = await startCollector({ KIMLIK_DATABASE: join(dir, 'kimlik.db') });
    configs.push({ key: 'sqlite', name: 'sqlite 1 process', procs: [sqlite], appName: null, schema: null });
    for (const n of PROCESSES) {
      const url = new URL(base);
      const schema = `bench_${randomBytes(4).toString('hex')}`;
      schemas.push(schema);
      url.searchParams.set('schema', schema);
      url.searchParams.set('application_name', `kimlik-${schema}`);
      const procs = await Promise.all(
        Array.from({ length: n }, () => startCollector({ KIMLIK_DATABASE: url.toString() })),
      );
      configs.push({
        key: n,
        name: `postgres ${n} proc${n > 1 ? 's' : ''}`,
        procs,
        appName: `kimlik-${schema}`,
        schema,
      });
    }
    for (const cfg of configs) cfg.rounds = [];
    for (let round = 1; round <= ROUNDS; round++) {
      console.log(`\nround ${round} of ${ROUNDS}`);
      for (const cfg of configs) {
        const out = await phases(
          cfg.name,
          cfg.procs.map((p) => p.url),
          cfg.procs.map((p) => p.child.pid),
          cfg.appName,
          cfg.schema,
        );
        cfg.rounds.push(best(out));
      }
    }
  } finally {
    await Promise.all(configs.flatMap((cfg) => cfg.procs.map((p) => p.stop())));
    if (schemas.length > 0) {
      const admin = new pg.Client({ connectionString: base });
      await admin.connect();
      for (const schema of schemas) await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await admin.end();
    }
    rmSync(dir, { recursive: true, force: true });
  }

  const byKey = new Map(configs.map((cfg) => [cfg.key, cfg.rounds]));
  const sqliteRounds = byKey.get('sqlite');
  const evs = (rounds) => rounds.map((r) => r.eventsPerSec);
  // Each round's PostgreSQL figure against the SQLite figure of the same round.
  const pairedRatios = (rounds) => rounds.map((r, i) => r.eventsPerSec / sqliteRounds[i].eventsPerSec);
  const list = (xs, f) => xs.map(f).join(' / ');
  console.log(
    `\nsummary (${ROUNDS} round${ROUNDS > 1 ? 's' : ''}, best level of each per round, medians over the rounds; ${fmt(PERSONS)} distinct anonymous IDs; load average ${loadAtStart.toFixed(1)} at start, ${loadavg()[0].toFixed(1)} at end)`,
  );
  console.log(
    `  sqlite, 1 process:      ${fmt(median(evs(sqliteRounds))).padStart(6)} ev/s  p99 ${median(sqliteRounds.map((r) => r.p99)).toFixed(1)} ms  (rounds: ${list(evs(sqliteRounds), fmt)})`,
  );
  for (const n of PROCESSES) {
    const rounds = byKey.get(n);
    const ratios = pairedRatios(rounds);
    console.log(
      `  postgres, ${n} process${n > 1 ? 'es' : '  '}: ${fmt(median(evs(rounds))).padStart(6)} ev/s  p99 ${median(rounds.map((r) => r.p99)).toFixed(1)} ms  = ${median(ratios).toFixed(2)}x sqlite  (rounds: ${list(ratios, (x) => `${x.toFixed(2)}x`)})`,
    );
  }
  if (byKey.has(1) && PROCESSES.length > 1) {
    const one = byKey.get(1);
    for (const n of PROCESSES.filter((x) => x > 1)) {
      const scaling = byKey.get(n).map((r, i) => r.eventsPerSec / one[i].eventsPerSec);
      console.log(
        `  scaling 1 → ${n} processes: ${median(scaling).toFixed(2)}x  (rounds: ${list(scaling, (x) => `${x.toFixed(2)}x`)})`,
      );
    }
  }
  const sqliteCpu = median(sqliteRounds.map((r) => r.cpu.total));
  for (const n of PROCESSES) {
    const cpu = median(byKey.get(n).map((r) => r.cpu.total));
    if (cpu !== null && sqliteCpu !== null) {
      console.log(
        `  CPU per event, postgres ${n} vs sqlite: ${us(cpu)} vs ${us(sqliteCpu)} µs = ${(cpu / sqliteCpu).toFixed(2)}x`,
      );
    }
  }
  const two = byKey.has(2) ? median(pairedRatios(byKey.get(2))) : null;
  if (two !== null) console.log(`  target: postgres 2 processes >= 0.70x sqlite 1 process → ${two.toFixed(2)}x`);
}
