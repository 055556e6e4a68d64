import { createServer } from 'node:http';
import { type AddressInfo, createServer as createNetServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestCollector, type TestCollector } from '../helpers/collector.js';
import { runNode, runWithSdk } from '../helpers/node-child.js';

const PRODUCER = fileURLToPath(new URL('./fixtures/producer.mjs', import.meta.url));

let collector: TestCollector;
beforeAll(async () => {
  collector = await startTestCollector();
});
afterAll(async () => {
  await collector?.close();
});

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

it('an exit flush that times out reports as shutdown() does: the messageIds, and without a spool the events lost and counted', async () => {
  const refusing = createServer((_req, res) => {
    res.writeHead(503, { 'content-type': 'application/json' });
    res.end('{"error":{"code":"KIMLIK_UNAVAILABLE","message":"down"}}');
  });
  await new Promise<void>((r) => refusing.listen(0, '127.0.0.1', r));
  try {
    const endpoint = `http://127.0.0.1:${(refusing.address() as AddressInfo).port}`;
    const { code, stderr } = await runWithSdk(`
      const k = new Kimlik({ writeKey: 'wk_test_write_key', endpoint: '${endpoint}', exitFlushTimeoutMs: 500,
        onWarn: () => {}, onError: (e) => process.stderr.write(JSON.stringify({ code: e.code, ids: e.messageIds, message: e.message }) + '\\n') });
      const { messageId } = k.track({ userId: 'u', event: 'x' });
      process.on('exit', () => process.stderr.write(JSON.stringify({ messageId, dropped: k.stats().dropped }) + '\\n'));
    `);
    expect(code, stderr).toBe(0);
    const [report, exit] = stderr
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l)) as [
      { code: string; ids: string[]; message: string },
      { messageId: string; dropped: number },
    ];
    expect(report.code).toBe('KIMLIK_DELIVERY_STOPPED');
    expect(report.ids).toEqual([exit.messageId]);
    expect(report.message).toMatch(/process exiting.*1 events unacknowledged.*lost/);
    expect(exit.dropped).toBe(1);
  } finally {
    await new Promise<void>((r) => refusing.close(() => r()));
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
