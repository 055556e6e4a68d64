import { describe, expect, it } from 'vitest';
import { Kimlik } from '../../sdk-node/src/index.js';
import { faultedCollector } from '../helpers/faulted-collector.js';

describe('collector overloaded', () => {
  const env = faultedCollector();

  const client = () =>
    new Kimlik({
      writeKey: env.collector.writeKey,
      endpoint: env.fault.url,
      retryBaseMs: 50,
      retryMaxMs: 200,
      maxConcurrentRequests: 1,
      onWarn: () => undefined,
    });

  it('answers 503 (Retry-After: 1) for 5 s: all stored, no retry sooner than Retry-After', async () => {
    env.fault.requests.length = 0;
    const start = Date.now();
    env.fault.script = ({ at }) =>
      at - start < 5000 ? { kind: 'status', status: 503, retryAfterSeconds: 1 } : { kind: 'proxy' };
    const c = client();
    for (let i = 0; i < 3000; i++) c.track({ userId: 'u503', event: 'Login', properties: { i } });
    await expect(c.flush()).resolves.toMatchObject({ pending: 0 });
    const refused = env.fault.requests.filter((r) => r.status === 503);
    expect(refused.length).toBeGreaterThanOrEqual(3);
    expect(refused.length).toBeLessThanOrEqual(6);
    for (let i = 1; i < env.fault.requests.length; i++) {
      const prev = env.fault.requests[i - 1];
      if (prev?.status === 503) expect((env.fault.requests[i]?.at ?? 0) - prev.at).toBeGreaterThanOrEqual(990);
    }
    const stored = (await env.collector.storedEvents()).filter((e) => e.userId === 'u503');
    expect(stored).toHaveLength(3000);
    await c.shutdown();
  }, 20_000);

  it('answers 429 with Retry-After: 2: waits 2 s, then all stored', async () => {
    env.fault.requests.length = 0;
    let answered = 0;
    env.fault.script = () =>
      answered++ < 1 ? { kind: 'status', status: 429, retryAfterSeconds: 2 } : { kind: 'proxy' };
    const c = client();
    for (let i = 0; i < 500; i++) c.track({ userId: 'u429', event: 'Login', properties: { i } });
    await expect(c.flush()).resolves.toMatchObject({ pending: 0 });
    const [first, second] = env.fault.requests;
    expect(first?.status).toBe(429);
    expect((second?.at ?? 0) - (first?.at ?? 0)).toBeGreaterThanOrEqual(1990);
    expect(second?.messageIds).toEqual(first?.messageIds);
    const stored = (await env.collector.storedEvents()).filter((e) => e.userId === 'u429');
    expect(stored).toHaveLength(500);
    await c.shutdown();
  }, 20_000);

  it('a Retry-After longer than a timer can wait (99999999 s) does not wake a retry timer every millisecond', async () => {
    env.fault.requests.length = 0;
    env.fault.script = () => ({ kind: 'status', status: 503, retryAfterSeconds: 99_999_999 });
    // Past 2^31 - 1 ms Node fires a timer after 1 ms (with this warning): the retry timer woke
    // every millisecond, re-arming itself for as long as the outage lasted.
    const overflows: Error[] = [];
    const onWarning = (w: Error) => w.name === 'TimeoutOverflowWarning' && overflows.push(w);
    process.on('warning', onWarning);
    try {
      const c = client();
      c.track({ userId: 'u-far', event: 'Login' });
      await expect(c.flush({ timeoutMs: 1000 })).resolves.toMatchObject({ pending: 1 });
      expect(env.fault.requests.length).toBe(1);
      await c.shutdown({ timeoutMs: 100 });
      expect(overflows).toEqual([]);
    } finally {
      process.off('warning', onWarning);
    }
  }, 20_000);
});
