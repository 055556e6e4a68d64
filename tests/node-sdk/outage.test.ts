import { expect, it } from 'vitest';
import { Kimlik } from '../../sdk-node/src/index.js';
import { faultedCollector } from '../helpers/faulted-collector.js';

const env = faultedCollector();

it('collector refusing connections for 10 s, then up: every event is stored', async () => {
  await env.fault.down();
  const warnings: string[] = [];
  const client = new Kimlik({
    writeKey: env.collector.writeKey,
    endpoint: env.fault.url,
    retryBaseMs: 100,
    retryMaxMs: 1000,
    onWarn: (m) => warnings.push(m),
    onError: (e) => warnings.push(e.message),
  });
  for (let i = 0; i < 2000; i++) client.track({ userId: `u${i % 7}`, event: 'Payment Captured', properties: { i } });
  const flushed = client.flush();
  const downFor = 10_000;
  await new Promise((r) => setTimeout(r, downFor));
  expect(client.stats()).toMatchObject({ delivered: 0 });
  expect(warnings.some((w) => /ECONNREFUSED/.test(w))).toBe(true);
  await env.fault.up();
  // How soon delivery resumes (within retryMaxMs of the restart) is checked with fake timers in
  // the engine's tests; a wall-clock bound here would only measure this machine's load.
  await expect(flushed).resolves.toEqual({ pending: 0, timedOut: false });
  const stored = await env.collector.storedEvents();
  expect(stored).toHaveLength(2000);
  expect(new Set(stored.map((e) => (e.properties as { i: number }).i)).size).toBe(2000);
  await client.shutdown();
}, 30_000);

it('a request the collector never answers times out after requestTimeoutMs and its batch is sent again, stored once', async () => {
  let hung = false;
  env.fault.script = () => {
    if (hung) return { kind: 'proxy' };
    hung = true;
    return { kind: 'hang' };
  };
  const warnings: string[] = [];
  const client = new Kimlik({
    writeKey: env.collector.writeKey,
    endpoint: env.fault.url,
    requestTimeoutMs: 300,
    retryBaseMs: 50,
    onWarn: (m) => warnings.push(m),
    onError: (e) => warnings.push(e.message),
  });
  const tracked = Array.from({ length: 20 }, (_, i) =>
    client.track({ userId: 'timeout-user', event: 'Invoice Sent', properties: { i } }),
  );
  await expect(client.flush()).resolves.toEqual({ pending: 0, timedOut: false });
  expect(warnings.some((w) => /no complete answer within 300 ms/.test(w))).toBe(true);
  expect((await Promise.all(tracked)).every((r) => r.delivered)).toBe(true);
  const ids = new Set(tracked.map((r) => r.messageId));
  const stored = (await env.collector.storedEvents()).filter((e) => ids.has(e.messageId as string));
  expect(stored).toHaveLength(20);
  env.fault.script = () => ({ kind: 'proxy' });
  await client.shutdown();
}, 30_000);
