import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Kimlik } from '../../sdk-node/src/index.js';
import { startTestCollector, type TestCollector } from '../helpers/collector.js';
import { type FaultServer, startFaultServer } from '../helpers/fault-server.js';

describe('collector overloaded', () => {
  let collector: TestCollector;
  let fault: FaultServer;
  beforeAll(async () => {
    collector = await startTestCollector();
    fault = await startFaultServer(collector.url);
  });
  afterAll(async () => {
    await fault?.close();
    await collector?.close();
  });

  const client = () =>
    new Kimlik({
      writeKey: collector.writeKey,
      endpoint: fault.url,
      retryBaseMs: 50,
      retryMaxMs: 200,
      maxConcurrentRequests: 1,
      onWarn: () => undefined,
    });

  it('answers 503 (Retry-After: 1) for 5 s: all stored, no retry sooner than Retry-After', async () => {
    fault.requests.length = 0;
    const start = Date.now();
    fault.script = ({ at }) =>
      at - start < 5000 ? { kind: 'status', status: 503, retryAfterSeconds: 1 } : { kind: 'proxy' };
    const c = client();
    for (let i = 0; i < 3000; i++) c.track({ userId: 'u503', event: 'Login', properties: { i } });
    await expect(c.flush()).resolves.toMatchObject({ pending: 0 });
    const refused = fault.requests.filter((r) => r.status === 503);
    expect(refused.length).toBeGreaterThanOrEqual(3);
    expect(refused.length).toBeLessThanOrEqual(6);
    for (let i = 1; i < fault.requests.length; i++) {
      const prev = fault.requests[i - 1];
      if (prev?.status === 503) expect((fault.requests[i]?.at ?? 0) - prev.at).toBeGreaterThanOrEqual(990);
    }
    const stored = (await collector.storedEvents()).filter((e) => e.userId === 'u503');
    expect(stored).toHaveLength(3000);
    await c.shutdown();
  }, 20_000);

  it('answers 429 with Retry-After: 2: waits 2 s, then all stored', async () => {
    fault.requests.length = 0;
    let answered = 0;
    fault.script = () => (answered++ < 1 ? { kind: 'status', status: 429, retryAfterSeconds: 2 } : { kind: 'proxy' });
    const c = client();
    for (let i = 0; i < 500; i++) c.track({ userId: 'u429', event: 'Login', properties: { i } });
    await expect(c.flush()).resolves.toMatchObject({ pending: 0 });
    const [first, second] = fault.requests;
    expect(first?.status).toBe(429);
    expect((second?.at ?? 0) - (first?.at ?? 0)).toBeGreaterThanOrEqual(1990);
    expect(second?.messageIds).toEqual(first?.messageIds);
    const stored = (await collector.storedEvents()).filter((e) => e.userId === 'u429');
    expect(stored).toHaveLength(500);
    await c.shutdown();
  }, 20_000);
});
