import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCollector, type TestCollector } from '../helpers/collector.js';

const example = (file: string) => fileURLToPath(new URL(`../../examples/node-server/${file}`, import.meta.url));

/** Starts an example server on port 0 and resolves with its URL, read from its log. */
function startExample(
  file: string,
  collector: TestCollector,
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

  it('Fastify: onClose shuts the SDK down after draining', async () => {
    const { child, url, output } = await startExample('fastify-server.mjs', collector);
    const res = await fetch(`${url}/login?user=ex-fastify`, { method: 'POST' });
    expect(await res.json()).toEqual({ ok: true, delivered: true });
    const done = exited(child);
    child.kill('SIGTERM');
    expect(await done, output()).toBe(0);
    const stored = (await collector.storedEvents()).filter((e) => e.userId === 'ex-fastify');
    expect(stored.map((e) => e.type).sort()).toEqual(['identify', 'track']);
  });
});
