// npm run bench:node-sdk — @kimlik/node against @segment/analytics-node, posthog-node and
// @rudderstack/rudder-sdk-node on one local sink, in one run. Each SDK runs in its own child
// process (honest peak RSS: getrusage maxrss); the sink (node:http in this process) counts
// unique and duplicate message IDs. Peers run with their defaults (only the endpoint set), as
// their users run them. events/s = unique events delivered / (track + flush wall time).
// Bounded: each child is killed after CHILD_TIMEOUT_MS. Needs the built SDK: `npx tsc -b`.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';

const EVENTS = Number(process.env.BENCH_EVENTS ?? 100_000);
const CHILD_TIMEOUT_MS = Number(process.env.BENCH_CHILD_TIMEOUT_MS ?? 120_000);
const WRITE_KEY = 'wk_bench_write_key';
const SELF = fileURLToPath(import.meta.url);

const event = (i) => ({
  event: 'Order Completed',
  properties: { orderId: `order-${i}`, total: 19.99 + (i % 100), currency: 'EUR', items: 1 + (i % 5), coupon: null },
});

/** One SDK's child process: track EVENTS events in a burst, flush, report time and peak RSS. */
const runners = {
  async kimlik(url, spoolDir) {
    const { Kimlik } = await import('../sdk-node/dist/index.js');
    const client = new Kimlik({
      writeKey: WRITE_KEY,
      endpoint: url,
      spool: spoolDir ? { dir: spoolDir } : undefined,
      onError: (e) => process.stderr.write(`kimlik: ${e.message}\n`),
    });
    return {
      track: (i) => client.track({ userId: `user-${i % 1000}`, ...event(i) }),
      done: async () => {
        await client.flush();
        await client.shutdown();
      },
    };
  },
  async 'kimlik+spool'(url) {
    const dir = mkdtempSync(join(tmpdir(), 'kimlik-bench-spool-'));
    const r = await runners.kimlik(url, dir);
    return {
      ...r,
      done: async () => {
        await r.done();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
  async segment(url) {
    const { Analytics } = await import('@segment/analytics-node');
    const client = new Analytics({ writeKey: WRITE_KEY, host: url });
    client.on('error', (e) => process.stderr.write(`segment: ${e?.message ?? e}\n`));
    return {
      track: (i) => client.track({ userId: `user-${i % 1000}`, ...event(i) }),
      done: () => client.closeAndFlush({ timeout: CHILD_TIMEOUT_MS }),
    };
  },
  async posthog(url) {
    const { PostHog } = await import('posthog-node');
    const client = new PostHog(WRITE_KEY, { host: url });
    return {
      track: (i) => client.capture({ distinctId: `user-${i % 1000}`, ...event(i) }),
      done: () => client.shutdown(CHILD_TIMEOUT_MS),
    };
  },
  async rudderstack(url) {
    const { default: Analytics } = await import('@rudderstack/rudder-sdk-node');
    const client = new Analytics(WRITE_KEY, { dataPlaneUrl: url, logLevel: 'error' });
    return {
      track: (i) => client.track({ userId: `user-${i % 1000}`, ...event(i) }),
      done: async () => {
        // flush() sends one batch; call it until the queue is empty.
        while (client.queue.length > 0) await client.flush();
        await client.flush();
      },
    };
  },
};

async function child(name, url) {
  const runner = await runners[name](url);
  const started = performance.now();
  for (let i = 0; i < EVENTS; i++) runner.track(i);
  const tracked = performance.now();
  await runner.done();
  const finished = performance.now();
  const peakRssMb = process.resourceUsage().maxRSS / 1024;
  process.stdout.write(`${JSON.stringify({ trackMs: tracked - started, totalMs: finished - started, peakRssMb })}\n`);
  process.exit(0);
}

/** Counts message IDs per run; answers each SDK in the shape it expects. */
function startSink() {
  const state = { seen: new Map(), received: 0, requests: 0 };
  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      let body = Buffer.concat(chunks);
      if (req.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
      const parsed = JSON.parse(body.toString('utf8'));
      const batch = Array.isArray(parsed.batch) ? parsed.batch : [];
      state.requests++;
      for (const e of batch) {
        const id = e.messageId ?? e.uuid;
        state.received++;
        state.seen.set(id, (state.seen.get(id) ?? 0) + 1);
      }
      const answer = req.url.startsWith('/batch')
        ? { status: 1 }
        : { success: true, accepted: batch.length, duplicates: 0, rejected: [] };
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(answer));
    });
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => resolve({ server, state, url: `http://127.0.0.1:${server.address().port}` }));
  });
}

function runChild(name, url) {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [SELF, '--child', name, url], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => {
      out += d;
    });
    p.stderr.on('data', (d) => {
      if (err.length < 2000) err += d;
    });
    // Peak RSS of a child that hits the time limit: its kernel high-water mark, polled (Linux).
    let hwmMb;
    const poll = setInterval(() => {
      try {
        const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${p.pid}/status`, 'utf8'));
        if (m) hwmMb = Number(m[1]) / 1024;
      } catch (e) {
        if (e.code !== 'ENOENT') throw e;
      }
    }, 200);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      p.kill('SIGKILL');
    }, CHILD_TIMEOUT_MS);
    p.on('exit', (code, signal) => {
      clearTimeout(timer);
      clearInterval(poll);
      const line = out.trim().split('\n').pop();
      let result = null;
      try {
        result = line ? JSON.parse(line) : null;
      } catch (e) {
        err += `unparsable child output: ${line} (${e.message})`;
      }
      resolve({ result, code, signal, timedOut, hwmMb, stderr: err.trim() });
    });
  });
}

async function main() {
  const sink = await startSink();
  const names = (process.env.BENCH_SDKS ?? 'kimlik,kimlik+spool,segment,posthog,rudderstack').split(',');
  console.log(`Node SDK benchmark: ${EVENTS} events tracked in a burst, then flushed; sink ${sink.url}`);
  console.log(
    `node ${process.version}, ${new Date().toISOString()}; load average ${(await import('node:os'))
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}\n`,
  );
  const rows = [];
  for (const name of names) {
    sink.state.seen = new Map();
    sink.state.received = 0;
    sink.state.requests = 0;
    const run = await runChild(name, sink.url);
    // Late requests from a killed child would be counted against the next SDK otherwise.
    await new Promise((r) => setTimeout(r, 300));
    const unique = sink.state.seen.size;
    const duplicates = sink.state.received - unique;
    const r = run.result;
    // A child stopped at the time limit gets events/s = what it delivered / the limit: an upper
    // bound of its speed, so the ratio against it is a lower bound (shown with ">=").
    rows.push({
      name,
      ok: r !== null,
      unique,
      duplicates,
      requests: sink.state.requests,
      totalMs: r?.totalMs ?? (run.timedOut ? CHILD_TIMEOUT_MS : undefined),
      trackMs: r?.trackMs,
      rss: r?.peakRssMb ?? run.hwmMb,
      eps: r ? unique / (r.totalMs / 1000) : run.timedOut ? unique / (CHILD_TIMEOUT_MS / 1000) : 0,
      bound: !r && run.timedOut,
      note: r
        ? ''
        : run.timedOut
          ? `not finished after ${CHILD_TIMEOUT_MS / 1000} s (killed)`
          : `failed (${run.signal ?? `exit ${run.code}`}): ${run.stderr.slice(0, 200)}`,
    });
    if (run.stderr && r) console.log(`  ${name} stderr: ${run.stderr.slice(0, 300).replaceAll('\n', ' | ')}`);
  }
  sink.server.close();

  const ours = rows.find((r) => r.name === 'kimlik');
  const pad = (s, n) => String(s).padStart(n);
  console.log(
    `${'SDK'.padEnd(14)}${pad('delivered', 11)}${pad('dupes', 8)}${pad('requests', 10)}${pad('track ms', 10)}${pad('total ms', 10)}${pad('events/s', 11)}${pad('peak RSS MB', 13)}${pad('ours ÷ this', 13)}`,
  );
  for (const r of rows) {
    const ratio =
      r.eps > 0 && ours?.eps ? `${r.bound ? '>=' : ''}${(ours.eps / r.eps).toFixed(2)}` : r.bound ? 'inf' : '–';
    console.log(
      `${r.name.padEnd(14)}${pad(`${((100 * r.unique) / EVENTS).toFixed(1)}%`, 11)}${pad(r.duplicates, 8)}${pad(r.requests, 10)}${pad(r.trackMs?.toFixed(0) ?? '–', 10)}${pad(r.totalMs === undefined ? '–' : `${r.bound ? '>' : ''}${r.totalMs.toFixed(0)}`, 10)}${pad(r.eps.toFixed(0), 11)}${pad(r.rss?.toFixed(1) ?? '–', 13)}${pad(ratio, 13)}${r.note ? `  ${r.note}` : ''}`,
    );
  }
  const peers = rows.filter((r) => !r.name.startsWith('kimlik') && r.eps > 0);
  // The fastest peer by delivered events/s (a timed-out peer counts at its upper bound).
  const fastest = peers.sort((a, b) => b.eps - a.eps)[0];
  const spool = rows.find((r) => r.name === 'kimlik+spool');
  console.log('\nTargets:');
  if (ours) {
    console.log(
      `  100% delivered, 0 duplicates: ${ours.unique === EVENTS && ours.duplicates === 0 ? 'yes' : 'NO'} (${ours.unique}/${EVENTS}, ${ours.duplicates} dupes)`,
    );
    console.log(`  peak RSS < 150 MB: ${ours.rss < 150 ? 'yes' : 'NO'} (${ours.rss?.toFixed(1)} MB)`);
    if (fastest)
      console.log(
        `  events/s >= 2x fastest peer (${fastest.name}): ${ours.eps >= 2 * fastest.eps ? 'yes' : 'NO'} (${(ours.eps / fastest.eps).toFixed(2)}x)`,
      );
    if (spool?.eps)
      console.log(
        `  spool on >= 0.5x of spool off: ${spool.eps >= 0.5 * ours.eps ? 'yes' : 'NO'} (${(spool.eps / ours.eps).toFixed(2)}x)`,
      );
  }
}

if (process.argv[2] === '--child') await child(process.argv[3], process.argv[4]);
else await main();
