import { createServer } from 'node:http';
import { type AddressInfo, createServer as createNetServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import { startTestCollector, type TestCollector, tempDir } from '../helpers/collector.js';
import { type FaultServer, startFaultServer } from '../helpers/fault-server.js';
import { runNode, runWithSdk } from '../helpers/node-child.js';

const PRODUCER = fileURLToPath(new URL('./fixtures/producer.mjs', import.meta.url));

let collector: TestCollector;
/** In front of `collector`: each test that uses it scripts it anew. */
let fault: FaultServer;
beforeAll(async () => {
  collector = await startTestCollector();
  fault = await startFaultServer(collector.url);
});
beforeEach(() => {
  fault.requests.length = 0;
  fault.script = () => ({ kind: 'proxy' });
});
afterAll(async () => {
  await fault?.close();
  await collector?.close();
});

/** The collector stalls on the test's first request (an exit flush times out on it), then answers. */
function stallFirstRequest(): void {
  let requests = 0;
  fault.script = () => (requests++ === 0 ? { kind: 'hang' } : { kind: 'proxy' });
}

/** A child's stderr, one JSON value a line. */
function lines(stderr: string): unknown[] {
  return stderr
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as unknown);
}

/** The fault server answers 503 for `ms` from the first request, then passes requests on. */
function outageFor(ms: number): void {
  let outageStart: number | undefined;
  fault.script = ({ at }) => {
    outageStart ??= at;
    return at - outageStart < ms ? { kind: 'status', status: 503 } : { kind: 'proxy' };
  };
}

it('a process that tracks and simply ends delivers its events via beforeExit', async () => {
  const { ms, code, stderr } = await runNode([PRODUCER, collector.url, collector.writeKey, '-', 'exit', '2500']);
  expect(code, stderr).toBe(0);
  // Well under the 1 s flush interval plus exit timeout: the exit flush is immediate.
  expect(ms).toBeLessThan(8000);
  const stored = (await collector.storedEvents()).filter((e) => e.userId === 'u-exit');
  expect(stored).toHaveLength(2500);
  expect(stderr).toBe('');
});

/** Runs an ES module body with `Kimlik` from the built SDK and `gc()` exposed; the body reports on stderr. */
function runWithGc(body: string) {
  const sdk = new URL('../../sdk-node/dist/index.js', import.meta.url).href;
  return runNode(['--expose-gc', '--input-type=module', '-e', `import { Kimlik } from '${sdk}';\n${body}`]);
}

it('clients flushed but never shut down share one beforeExit listener and are collected', async () => {
  const { code, stderr } = await runWithGc(`
    const warnings = [];
    process.removeAllListeners('warning');
    process.on('warning', (w) => warnings.push(w.name));
    let freed = 0;
    const finalized = new FinalizationRegistry(() => freed++);
    for (let i = 0; i < 30; i++) {
      // flushAt 1: the event goes at once, so no interval timer holds the client afterwards.
      const client = new Kimlik({ writeKey: '${collector.writeKey}', endpoint: '${collector.url}', flushAt: 1 });
      finalized.register(client, i);
      client.track({ userId: 'u-idle', event: 'Invocation', properties: { i } });
      await client.flush();
    }
    const listeners = process.listenerCount('beforeExit');
    // Finalizers run in tasks after a collection: a few turns of the loop, not a time.
    for (let turn = 0; turn < 20 && freed < 29; turn++) {
      globalThis.gc();
      await new Promise((resolve) => setImmediate(resolve));
    }
    process.stderr.write(JSON.stringify({ listeners, freed, warnings }));
  `);
  expect(code, stderr).toBe(0);
  const report = JSON.parse(stderr) as { listeners: number; freed: number; warnings: string[] };
  expect(report.listeners).toBe(1);
  expect(report.warnings).toEqual([]);
  // All but possibly the last, which the runtime may still hold.
  expect(report.freed).toBeGreaterThanOrEqual(29);
  const stored = (await collector.storedEvents()).filter((e) => e.userId === 'u-idle');
  expect(stored).toHaveLength(30);
});

it('every client, also one nobody references any more, delivers its queued events on beforeExit', async () => {
  const { code, stderr } = await runWithGc(`
    const options = { writeKey: '${collector.writeKey}', endpoint: '${collector.url}', onError: (e) => process.stderr.write(e.message) };
    const kept = new Kimlik(options);
    for (let i = 0; i < 50; i++) kept.track({ userId: 'u-kept', event: 'Queued', properties: { i } });
    (() => {
      const client = new Kimlik(options);
      for (let i = 0; i < 100; i++) client.track({ userId: 'u-dropped', event: 'Queued', properties: { i } });
    })();
    for (let turn = 0; turn < 5; turn++) {
      globalThis.gc();
      await new Promise((resolve) => setImmediate(resolve));
    }
  `);
  expect(code, stderr).toBe(0);
  expect(stderr).toBe('');
  const stored = await collector.storedEvents();
  expect(stored.filter((e) => e.userId === 'u-kept')).toHaveLength(50);
  expect(stored.filter((e) => e.userId === 'u-dropped')).toHaveLength(100);
});

it('an exit flush that times out aborts its request and names the events unacknowledged; a process that goes on still delivers them', async () => {
  stallFirstRequest();
  const { code, stderr } = await runWithSdk(`
    let reports = 0;
    const k = new Kimlik({ writeKey: '${collector.writeKey}', endpoint: '${fault.url}', exitFlushTimeoutMs: 500,
      retryBaseMs: 50, retryMaxMs: 100, onWarn: () => {}, onError: (e) => {
        process.stderr.write(JSON.stringify({ code: e.code, ids: e.messageIds, message: e.message }) + '\\n');
        if (reports++ > 0) return;
        // beforeExit is no exit: this process goes on (as a runtime with its next job).
        setTimeout(async () => {
          const after = await k.track({ userId: 'u-goes-on', event: 'After' });
          const before = await first;
          process.stderr.write(JSON.stringify({ before: before.delivered, after: after.delivered, dropped: k.stats().dropped }) + '\\n');
        }, 0);
      } });
    const first = k.track({ userId: 'u-goes-on', event: 'Before' });
    process.on('exit', () => process.stderr.write(JSON.stringify({ messageId: first.messageId }) + '\\n'));
  `);
  expect(code, stderr).toBe(0);
  const [report, outcome, exit, ...more] = lines(stderr) as [
    { code: string; ids: string[]; message: string },
    { before: boolean; after: boolean; dropped: number },
    { messageId: string },
  ];
  expect(more, stderr).toEqual([]);
  expect(report.code).toBe('KIMLIK_DELIVERY_STOPPED');
  expect(report.ids).toEqual([exit.messageId]);
  expect(report.message).toBe(
    'process exiting after 500 ms: 1 events unacknowledged, lost if it ends now (no spool); delivery goes on if it does not',
  );
  // Neither counted as dropped nor settled: the client delivers both once the collector answers.
  expect(outcome).toEqual({ before: true, after: true, dropped: 0 });
  const stored = (await collector.storedEvents()).filter((e) => e.userId === 'u-goes-on');
  expect(stored.map((e) => e.event).sort()).toEqual(['After', 'Before']);
});

it('with a spool, the timed-out exit flush says the events stay in it', async () => {
  fault.script = () => ({ kind: 'status', status: 503 });
  const dir = tempDir();
  try {
    const { code, stderr } = await runWithSdk(`
      const k = new Kimlik({ writeKey: '${collector.writeKey}', endpoint: '${fault.url}', exitFlushTimeoutMs: 500,
        spool: { dir: ${JSON.stringify(dir.path)} }, onWarn: () => {},
        onError: (e) => process.stderr.write(JSON.stringify({ ids: e.messageIds, message: e.message }) + '\\n') });
      const { messageId } = k.track({ userId: 'u-spooled', event: 'x' });
      process.on('exit', () => process.stderr.write(JSON.stringify({ messageId, dropped: k.stats().dropped, spooled: k.stats().spooled }) + '\\n'));
    `);
    expect(code, stderr).toBe(0);
    const [report, exit, ...more] = lines(stderr) as [
      { ids: string[]; message: string },
      { messageId: string; dropped: number; spooled: number },
    ];
    expect(more, stderr).toEqual([]);
    expect(report).toEqual({
      ids: [exit.messageId],
      message:
        'process exiting after 500 ms: 1 events unacknowledged, kept in the spool; delivery goes on if it does not',
    });
    expect(exit).toMatchObject({ dropped: 0, spooled: 1 });
  } finally {
    dir.remove();
  }
});

it('a script awaiting each receipt through an outage longer than exitFlushTimeoutMs delivers every event once the collector is back', async () => {
  // 503 for 2 s from the first request: twice the exit flush's timeout.
  outageFor(2000);
  const { code, stderr } = await runWithSdk(`
    const k = new Kimlik({ writeKey: '${collector.writeKey}', endpoint: '${fault.url}', exitFlushTimeoutMs: 1000,
      retryBaseMs: 50, retryMaxMs: 200, onWarn: () => {}, onError: (e) => process.stderr.write(JSON.stringify({ error: e.code }) + '\\n') });
    for (let step = 1; step <= 3; step++) {
      const r = await k.track({ userId: 'u-outage-await', event: 'Step', properties: { step } });
      process.stderr.write(JSON.stringify({ step, delivered: r.delivered }) + '\\n');
    }
    await k.shutdown();
  `);
  expect(code, stderr).toBe(0);
  expect(lines(stderr)).toEqual([
    { step: 1, delivered: true },
    { step: 2, delivered: true },
    { step: 3, delivered: true },
  ]);
  const first = fault.requests[0]?.at ?? 0;
  // The outage did outlast the exit flush's timeout: retries went on past it.
  expect(fault.requests.some((r) => r.status === 503 && r.at - first >= 1500)).toBe(true);
  const stored = (await collector.storedEvents()).filter((e) => e.userId === 'u-outage-await');
  expect(stored.map((e) => (e.properties as { step: number }).step)).toEqual([1, 2, 3]);
});

it('within(Infinity) through an outage longer than exitFlushTimeoutMs waits for the outcome, as an await does', async () => {
  outageFor(2000);
  const { code, stderr } = await runWithSdk(`
    const k = new Kimlik({ writeKey: '${collector.writeKey}', endpoint: '${fault.url}', exitFlushTimeoutMs: 1000,
      retryBaseMs: 50, retryMaxMs: 200, onWarn: () => {}, onError: (e) => process.stderr.write(JSON.stringify({ error: e.code }) + '\\n') });
    const r = await k.track({ userId: 'u-outage-within-inf', event: 'Step' }).within(Infinity);
    process.stderr.write(JSON.stringify({ delivered: r.delivered }) + '\\n');
    await k.shutdown();
  `);
  expect(code, stderr).toBe(0);
  // It arms no timer (one past 2^31 - 1 ms fires at once), so only the receipt's hold keeps the process.
  expect(lines(stderr)).toEqual([{ delivered: true }]);
  const stored = (await collector.storedEvents()).filter((e) => e.userId === 'u-outage-within-inf');
  expect(stored).toHaveLength(1);
});

it('within(ms) bounds what an awaited receipt holds: past it a script ends during an outage that does not', async () => {
  fault.script = () => ({ kind: 'status', status: 503 });
  const { ms, code, stderr } = await runWithSdk(`
    const k = new Kimlik({ writeKey: '${collector.writeKey}', endpoint: '${fault.url}', exitFlushTimeoutMs: 500,
      retryBaseMs: 50, retryMaxMs: 200, onWarn: () => {}, onError: (e) => process.stderr.write(JSON.stringify({ error: e.code }) + '\\n') });
    const r = await k.track({ userId: 'u-outage-within', event: 'Step' }).within(300);
    process.stderr.write(JSON.stringify({ delivered: r.delivered, pending: r.pending }) + '\\n');
  `);
  expect(code, stderr).toBe(0);
  expect(lines(stderr)).toEqual([{ delivered: false, pending: true }, { error: 'KIMLIK_DELIVERY_STOPPED' }]);
  // 300 ms of within, 500 ms of exit flush, start-up time.
  expect(ms).toBeLessThan(4000);
});

it('a runtime that goes on after beforeExit (AWS Lambda, callback-style handlers): every invocation’s event is delivered, also after a timed-out exit flush', async () => {
  // Invocation 1's exit flush times out on the stalled request.
  stallFirstRequest();
  // The runtime API: the next invocation comes once the child reported the timed-out exit flush.
  let reported: () => void = () => undefined;
  const report = new Promise<void>((resolve) => {
    reported = resolve;
  });
  let invocation = 1;
  const runtime = createServer((req, res) => {
    if (req.url === '/report') {
      req.resume();
      req.on('end', () => {
        reported();
        res.end();
      });
      return;
    }
    void report.then(() => res.end(invocation < 3 ? String(++invocation) : 'done'));
  });
  await new Promise<void>((r) => runtime.listen(0, '127.0.0.1', r));
  try {
    const api = `http://127.0.0.1:${(runtime.address() as AddressInfo).port}`;
    const { code, stderr } = await runWithSdk(`
      import { get, request } from 'node:http';
      const k = new Kimlik({ writeKey: '${collector.writeKey}', endpoint: '${fault.url}', exitFlushTimeoutMs: 1000,
        retryBaseMs: 50, retryMaxMs: 100, onWarn: () => {}, onError: (e) => {
          process.stderr.write(JSON.stringify({ code: e.code, ids: e.messageIds }) + '\\n');
          request('${api}/report', { method: 'POST' }).end();
        } });
      const ids = [];
      // A callback-style handler: tracks and returns, without awaiting delivery.
      const handler = (n) => ids.push(k.track({ userId: 'u-runtime', event: 'Invocation', properties: { n } }).messageId);
      // As the runtime does: an empty event loop ends the invocation, then it fetches the next one.
      let fetching = false;
      let done = false;
      process.on('beforeExit', () => {
        if (fetching || done) return;
        fetching = true;
        get('${api}/next', (res) => {
          let body = '';
          res.on('data', (c) => { body += c; });
          res.on('end', () => {
            fetching = false;
            if (body === 'done') done = true;
            else handler(Number(body));
          });
        });
      });
      handler(1);
      process.on('exit', () => process.stderr.write(JSON.stringify({ ids, dropped: k.stats().dropped }) + '\\n'));
    `);
    expect(code, stderr).toBe(0);
    const [timedOut, exit, ...more] = lines(stderr) as [
      { code: string; ids: string[] },
      { ids: string[]; dropped: number },
    ];
    expect(more, stderr).toEqual([]);
    expect(timedOut).toEqual({ code: 'KIMLIK_DELIVERY_STOPPED', ids: [exit.ids[0]] });
    expect(exit.dropped).toBe(0);
    const stored = (await collector.storedEvents()).filter((e) => e.userId === 'u-runtime');
    expect(stored.map((e) => e.messageId).sort()).toEqual([...exit.ids].sort());
    expect(exit.ids).toHaveLength(3);
  } finally {
    await new Promise<void>((r) => runtime.close(() => r()));
  }
});

it('a request in flight that nobody awaits any more does not hold the process: a stalled collector costs flush’s timeout plus exitFlushTimeoutMs', async () => {
  // Reads the request, never answers: a collector or proxy stalled mid-request.
  const stalled = createNetServer((socket) => socket.resume());
  await new Promise<void>((r) => stalled.listen(0, '127.0.0.1', r));
  try {
    const endpoint = `http://127.0.0.1:${(stalled.address() as AddressInfo).port}`;
    const { ms, code, stderr } = await runWithSdk(`
      const k = new Kimlik({ writeKey: 'wk_test_write_key', endpoint: '${endpoint}', exitFlushTimeoutMs: 1000,
        requestTimeoutMs: 60000, onWarn: () => {}, onError: (e) => process.stderr.write(e.code + ' ' + e.messageIds.length + '\\n') });
      for (let i = 0; i < 20; i++) k.track({ userId: 'u', event: 'x' });
      const flushed = await k.flush({ timeoutMs: 1000 });
      process.stderr.write('flush ' + flushed.pending + '\\n');
    `);
    expect(code, stderr).toBe(0);
    expect(stderr).toBe('flush 20\nKIMLIK_DELIVERY_STOPPED 20\n');
    // 1 s of flush + 1 s of exit flush, not the 60 s request timeout.
    expect(ms).toBeLessThan(4500);
  } finally {
    await new Promise<void>((r) => stalled.close(() => r()));
  }
});
