import { createServer, type Server, type ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { Kimlik } from '../../sdk-node/src/index.js';
import { runWithSdk } from '../helpers/node-child.js';

// Every deadline the Node SDK documents holds against a collector that answers slowly or not at
// all: shutdown's timeout, requestTimeoutMs, and the timers left after a flush that timed out.

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  }
});

/** A server on 127.0.0.1 answering request n (from 0) with `answer(n, res)`. */
async function serve(answer: (n: number, res: ServerResponse) => void): Promise<string> {
  let n = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => answer(n++, res));
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as { port: number }).port}`;
}

/** Headers at once, then a byte every 300 ms, never the end: no socket is ever idle. */
function drip(res: ServerResponse): void {
  res.writeHead(200, { 'content-type': 'application/json' });
  const timer = setInterval(() => res.write(' '), 300);
  res.on('close', () => clearInterval(timer));
}

const ok = (res: ServerResponse) => res.end(JSON.stringify({ success: true, accepted: 1, rejected: [] }));

const quiet = { writeKey: 'wk_test_write_key', onError: () => undefined, onWarn: () => undefined };

describe('deadlines', () => {
  it('shutdown({ timeoutMs }) returns by its deadline though a request made during it never ends', async () => {
    // The first batch is answered after 300 ms; the one tracked during the shutdown drips forever.
    const endpoint = await serve((n, res) => (n === 0 ? setTimeout(() => ok(res), 300) : drip(res)));
    const client = new Kimlik({ ...quiet, endpoint, flushAt: 1 });
    client.track({ userId: 'u', event: 'before' });
    const started = Date.now();
    const stopping = client.shutdown({ timeoutMs: 1500 });
    client.track({ userId: 'u', event: 'during' });
    await stopping;
    expect(Date.now() - started).toBeLessThan(2500);
  });

  it('requestTimeoutMs bounds a whole request, not only silence: a trickling answer is retried', async () => {
    const endpoint = await serve((n, res) => (n === 0 ? drip(res) : ok(res)));
    const client = new Kimlik({ ...quiet, endpoint, requestTimeoutMs: 800, retryBaseMs: 50, retryMaxMs: 100 });
    client.track({ userId: 'u', event: 'x' });
    const started = Date.now();
    await expect(client.flush({ timeoutMs: 6000 })).resolves.toEqual({ pending: 0, timedOut: false });
    expect(Date.now() - started).toBeLessThan(4000);
    await client.shutdown({ timeoutMs: 500 });
  });
});

describe('what keeps a process alive', () => {
  it('a flush that timed out leaves no timer holding the process (a retry 20 s away)', async () => {
    const endpoint = await serve((_n, res) => {
      res.writeHead(429, { 'retry-after': '20', 'content-type': 'application/json' });
      res.end('{}');
    });
    const run = await runWithSdk(`
const client = new Kimlik({ writeKey: 'wk', endpoint: '${endpoint}', flushOnExit: false, onError: () => {}, onWarn: () => {} });
client.track({ userId: 'u', event: 'serverless' });
await client.flush({ timeoutMs: 500 });`);
    expect(run.code, run.stderr).toBe(0);
    expect(run.ms).toBeLessThan(4000);
  });

  it('the exit flush keeps the process no longer than exitFlushTimeoutMs, whatever the collector does', async () => {
    const endpoint = await serve((_n, res) => drip(res));
    const run = await runWithSdk(`
const client = new Kimlik({ writeKey: 'wk', endpoint: '${endpoint}', exitFlushTimeoutMs: 1000, onError: () => {}, onWarn: () => {} });
client.track({ userId: 'u', event: 'exiting' });`);
    expect(run.code, run.stderr).toBe(0);
    // The flush interval (1 s) and the exit flush (1 s), with start-up time.
    expect(run.ms).toBeLessThan(5000);
  });

  it('a wait of Infinity (or past 2^31 - 1 ms) waits for the outcome: Node ran such a timer after 1 ms and shutdown() dropped every event', async () => {
    // Answers after 300 ms: a timer that fires at once would end each wait before the answer.
    const endpoint = await serve((_n, res) => setTimeout(() => ok(res), 300));
    const k = new Kimlik({ ...quiet, endpoint, flushIntervalMs: 10 });
    expect(await k.track({ userId: 'u', event: 'a' }).within(Number.POSITIVE_INFINITY)).toMatchObject({
      delivered: true,
    });
    expect(await k.track({ userId: 'u', event: 'b' }).within(2 ** 31)).toMatchObject({ delivered: true });
    k.track({ userId: 'u', event: 'c' });
    expect(await k.flush({ timeoutMs: Number.POSITIVE_INFINITY })).toEqual({ pending: 0, timedOut: false });
    k.track({ userId: 'u', event: 'd' });
    expect(await k.shutdown({ timeoutMs: Number.POSITIVE_INFINITY })).toEqual({
      timedOut: false,
      spooled: 0,
      dropped: 0,
    });
  });
});
