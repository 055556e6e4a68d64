#!/usr/bin/env node
// npm run bench:identity — 1M events over 200k persons (30% cross-device, 5% shared-device
// conflicts) through HTTP into the collector with identity resolution on, and the same stream into a
// collector with identity off (the track-only ingest figure) in the same run. Then p99 of profile
// lookups by email, and database size per million events. Bounded in time.
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BENCH_ADMIN_KEY, benchAuth, identityCatchUpMs, startCollector } from './lib/collector-process.mjs';
import { drive } from './lib/load.mjs';
import { rng } from './lib/rng.mjs';

const EVENTS = Number(process.env.BENCH_EVENTS ?? 1_000_000);
const PERSONS = Number(process.env.BENCH_PERSONS ?? 200_000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 32);
const MAX_MS = Number(process.env.BENCH_MAX_MS ?? 240_000);
const LOOKUPS = Number(process.env.BENCH_LOOKUPS ?? 2_000);

function makeStream() {
  const rand = rng(7);
  const t0 = Date.now() - 86_400_000;
  let n = 0;
  return (size) => {
    const batch = [];
    const sentAt = new Date().toISOString();
    for (let i = 0; i < size; i++, n++) {
      const p = Math.floor(rand() * PERSONS);
      const crossDevice = p % 10 < 3;
      const device = crossDevice && rand() < 0.5 ? `dev-${p}-b` : `dev-${p}-a`;
      const timestamp = new Date(t0 + Math.floor((n / EVENTS) * 86_400_000)).toISOString();
      const base = { messageId: `${n}-${p}-${Math.floor(rand() * 1e9)}`, timestamp, anonymousId: device };
      const r = rand();
      if (r < 0.7)
        batch.push({
          ...base,
          type: 'track',
          event: 'Product Viewed',
          properties: { sku: `sku-${n % 500}`, price: 19.99 },
        });
      else if (r < 0.8) batch.push({ ...base, type: 'page', name: 'Home', properties: { path: '/' } });
      else if (r < 0.9)
        batch.push({
          ...base,
          type: 'identify',
          userId: `user-${p}`,
          traits: { email: `person${p}@example.com`, plan: r < 0.85 ? 'pro' : 'free' },
        });
      else if (r < 0.95) {
        // 5% shared-device conflicts: someone else logs in on this person's device.
        const other = (p + 1 + Math.floor(rand() * 1000)) % PERSONS;
        batch.push({
          ...base,
          type: 'identify',
          userId: `user-${other}`,
          traits: { email: `person${other}@example.com` },
        });
      } else {
        const { anonymousId: _a, ...server } = base;
        batch.push({
          ...server,
          type: 'track',
          userId: `user-${p}`,
          event: 'Order Completed',
          properties: { total: 42 },
        });
      }
    }
    return JSON.stringify({ batch, sentAt });
  };
}

const fmt = (x) => Math.round(x).toLocaleString('en-US');

async function run(name, env) {
  const dir = mkdtempSync(join(tmpdir(), 'kimlik-bench-id-'));
  const db = join(dir, 'kimlik.db');
  const c = await startCollector({ KIMLIK_DATABASE: db, ...env });
  const r = await drive({
    url: c.url,
    auth: benchAuth,
    concurrency: CONCURRENCY,
    maxEvents: EVENTS,
    maxMs: MAX_MS,
    makeBody: makeStream(),
  });
  // Done means resolved: the time until the last acknowledged event's identity is applied counts.
  const catchUp = await identityCatchUpMs(c.url);
  const seconds = r.seconds + catchUp / 1000;
  const eventsPerSec = r.events / seconds;
  console.log(
    `${name.padEnd(14)} ${fmt(eventsPerSec).padStart(8)} ev/s  p50 ${r.p50.toFixed(1)} ms  p99 ${r.p99.toFixed(1)} ms  (${fmt(r.events)} events in ${seconds.toFixed(1)} s, of which ${catchUp.toFixed(0)} ms identity catch-up after the last ack)`,
  );
  return { ...r, eventsPerSec, seconds, c, dir, db };
}

const plain = await run('identity off', { KIMLIK_IDENTITY: 'false' });
await plain.c.stop();
const bytesPlain = statSync(plain.db).size;
rmSync(plain.dir, { recursive: true, force: true });

const ident = await run('identity on', {});
// Lookup latency by email over the populated profile set (keep-alive, sequential).
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const rand = rng(3);
const lat = [];
let found = 0;
for (let i = 0; i < LOOKUPS; i++) {
  const p = Math.floor(rand() * PERSONS);
  const t = performance.now();
  const status = await new Promise((resolve) => {
    http
      .get(
        `${ident.c.url}/v1/profiles?email=person${p}%40example.com`,
        { agent, headers: { authorization: `Bearer ${BENCH_ADMIN_KEY}` } },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode));
        },
      )
      .on('error', () => resolve(0));
  });
  lat.push(performance.now() - t);
  if (status === 200) found++;
}
agent.destroy();
lat.sort((a, b) => a - b);
await ident.c.stop();
const bytes = statSync(ident.db).size;
rmSync(ident.dir, { recursive: true, force: true });

console.log('\nsummary');
console.log(`  events:                        ${fmt(ident.events)} over ${fmt(PERSONS)} persons`);
console.log(`  ingest, identity off:          ${fmt(plain.eventsPerSec)} ev/s`);
console.log(`  ingest, identity on:           ${fmt(ident.eventsPerSec)} ev/s`);
console.log(
  `  ratio on/off:                  ${(ident.eventsPerSec / plain.eventsPerSec).toFixed(2)} (target >= 0.70)`,
);
console.log(
  `  lookup by email: p50 ${lat[Math.floor(lat.length * 0.5)]?.toFixed(2)} ms, p99 ${lat[Math.floor(lat.length * 0.99)]?.toFixed(2)} ms over ${LOOKUPS} lookups (${found} found; target p99 < 5 ms)`,
);
console.log(
  `  database size per million events: identity on ${fmt(((bytes / ident.events) * 1e6) / 1048576)} MiB, off ${fmt(((bytesPlain / plain.events) * 1e6) / 1048576)} MiB`,
);
