import { type ChildProcess, spawn } from 'node:child_process';
import { request } from 'node:http';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCollector, type TestCollector } from '../helpers/collector.js';
import { startFaultServer } from '../helpers/fault-server.js';

const example = (file: string) => fileURLToPath(new URL(`../../examples/node-server/${file}`, import.meta.url));

/** Starts an example server on port 0 and resolves with its URL, read from its log. */
function startExample(
  file: string,
  collector: { url: string; writeKey: string },
): Promise<{ child: ChildProcess; url: string; output: () => string }> {
  const child = spawn(process.execPath, [example(file)], {
    env: { ...process.env, PORT: '0', KIMLIK_WRITE_KEY: collector.writeKey, KIMLIK_ENDPOINT: collector.url },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const collect = (d: Buffer) => {
    out += d.toString();
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${file} did not start: ${out}`)), 15_000);
    const check = () => {
      const m = /(?:listening on|Server listening at) (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (m?.[1]) {
        clearTimeout(timer);
        child.stdout?.off('data', check);
        resolve({ child, url: m[1], output: () => out });
      }
    };
    child.stdout?.on('data', check);
    child.once('exit', (code) => reject(new Error(`${file} exited with ${code}: ${out}`)));
  });
}

const exited = (child: ChildProcess) => new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));

describe('examples/node-server', () => {
  let collector: TestCollector;
  beforeAll(async () => {
    collector = await startTestCollector();
  });
  afterAll(async () => {
    await collector?.close();
  });

  it('node:http: events tracked before SIGTERM are delivered by the shutdown', async () => {
    const { child, url, output } = await startExample('http-server.mjs', collector);
    for (let i = 0; i < 3; i++)
      expect((await fetch(`${url}/orders?user=ex-http`, { method: 'POST' })).status).toBe(201);
    const done = exited(child);
    child.kill('SIGTERM');
    expect(await done, output()).toBe(0);
    expect(output()).toContain('"timedOut":false');
    const stored = (await collector.storedEvents()).filter((e) => e.userId === 'ex-http');
    expect(stored).toHaveLength(3);
  });

  it('node:http: a request in flight at SIGTERM is answered and its event delivered before the shutdown', async () => {
    const { child, url, output } = await startExample('http-server.mjs', collector);
    const done = exited(child);
    const answered = new Promise<number | string>((resolve) => {
      // Expect: 100-continue: the server answers "continue" once its handler runs, so the signal
      // comes with the request in the handler, its body still to read.
      const req = request(`${url}/orders?user=ex-inflight`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', expect: '100-continue' },
      });
      req.on('continue', () => {
        child.stdout?.on('data', () => {
          if (output().includes('SIGTERM: closing') && !req.writableEnded) req.end('{"total":12.5}');
        });
        child.kill('SIGTERM');
      });
      req.on('response', (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', (err) => resolve(err.message));
    });
    expect(await answered, output()).toBe(201);
    expect(await done, output()).toBe(0);
    const stored = (await collector.storedEvents()).filter((e) => e.userId === 'ex-inflight');
    expect(stored.map((e) => e.properties)).toEqual([expect.objectContaining({ total: 12.5 })]);
  });

  it('Fastify: onClose shuts the SDK down after draining', async () => {
    const { child, url, output } = await startExample('fastify-server.mjs', collector);
    const res = await fetch(`${url}/login?user=ex-fastify`, { method: 'POST' });
    expect(await res.json()).toEqual({ ok: true, messageId: expect.any(String) });
    const done = exited(child);
    child.kill('SIGTERM');
    expect(await done, output()).toBe(0);
    const stored = (await collector.storedEvents()).filter((e) => e.userId === 'ex-fastify');
    expect(stored.map((e) => e.type).sort()).toEqual(['identify', 'track']);
  });

  it('Fastify during a collector outage: requests answer at once and SIGTERM ends within the shutdown timeout', async () => {
    const fault = await startFaultServer(collector.url);
    fault.script = () => ({ kind: 'status', status: 503 });
    let child: ChildProcess | undefined;
    try {
      const started = await startExample('fastify-server.mjs', { url: fault.url, writeKey: collector.writeKey });
      child = started.child;
      const { url, output } = started;
      const answered = await fetch(`${url}/login?user=ex-outage`, {
        method: 'POST',
        signal: AbortSignal.timeout(3000),
      });
      expect(answered.status).toBe(200);
      // A request still in the handler when the signal comes must not hold app.close() either.
      const late = fetch(`${url}/login?user=ex-outage`, { method: 'POST' }).then(
        (r) => r.status,
        () => 'cut',
      );
      const done = exited(child);
      const signalled = Date.now();
      child.kill('SIGTERM');
      expect(await done, output()).toBe(0);
      expect(Date.now() - signalled).toBeLessThan(8000);
      await late;
      expect(output()).toMatch(/"spooled":0,"dropped":[1-9]/);
    } finally {
      if (child?.exitCode === null) child.kill('SIGKILL');
      await fault.close();
    }
  }, 20_000);
});
