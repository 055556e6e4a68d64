import { describe, expect, it } from 'vitest';
import { Kimlik } from '../../sdk-node/src/index.js';
import { faultedCollector } from '../helpers/faulted-collector.js';

/** Rejects with `what` unless `promise` settles within `ms`: an awaited receipt must not wait for the interval. */
function within<T>(promise: PromiseLike<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} not settled within ${ms} ms`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

describe('awaiting what track() returns', () => {
  const env = faultedCollector();

  it("sends at once (the README's serverless settings, flushIntervalMs: 60 000), one request per awaited track in a loop", async () => {
    const client = new Kimlik({
      writeKey: env.collector.writeKey,
      endpoint: env.fault.url,
      flushIntervalMs: 60_000,
      queueFullPolicy: 'backpressure',
      onError: () => undefined,
    });
    const before = env.fault.requests.length;
    // The README's backpressure loop: each await paces on a round trip, not on the flush interval.
    for (let i = 0; i < 5; i++) {
      const receipt = await within(
        client.track({ userId: 'u-await', event: 'Order Completed', properties: { i } }),
        5000,
        `awaited track #${i}`,
      );
      expect(receipt.delivered).toBe(true);
    }
    expect(env.fault.requests.slice(before).map((r) => r.messageIds.length)).toEqual([1, 1, 1, 1, 1]);
    await client.shutdown();
  });

  it('receipts awaited in one tick go in one request; events nobody awaits wait for the interval', async () => {
    const client = new Kimlik({
      writeKey: env.collector.writeKey,
      endpoint: env.fault.url,
      flushIntervalMs: 60_000,
      onError: () => undefined,
    });
    const before = env.fault.requests.length;
    const ignored = client.track({ userId: 'u-tick', event: 'Fire and forget' });
    const receipts = Array.from({ length: 20 }, (_, i) =>
      client.track({ userId: 'u-tick', event: 'Awaited', properties: { i } }),
    );
    const results = await within(Promise.all(receipts), 5000, 'Promise.all of 20 receipts');
    expect(results.every((r) => r.delivered)).toBe(true);
    // One request, with the event nobody awaited: it was not sent on its own.
    const sent = env.fault.requests.slice(before);
    expect(sent).toHaveLength(1);
    expect(sent[0]?.messageIds).toEqual([ignored.messageId, ...receipts.map((r) => r.messageId)]);
    await client.shutdown();
  });

  it('during an outage a receipt waits as long as it lasts: within(ms) bounds the wait, shutdown() settles every receipt', async () => {
    env.fault.script = () => ({ kind: 'status', status: 503 });
    try {
      const client = new Kimlik({
        writeKey: env.collector.writeKey,
        endpoint: env.fault.url,
        retryBaseMs: 50,
        retryMaxMs: 100,
        onWarn: () => undefined,
        onError: () => undefined,
      });
      const receipt = client.track({ userId: 'u-outage', event: 'Logged In' });
      const started = Date.now();
      await expect(receipt.within(300)).resolves.toEqual({
        messageId: receipt.messageId,
        delivered: false,
        pending: true,
      });
      expect(Date.now() - started).toBeLessThan(2000);
      // Still queued and retried: only the caller stopped waiting.
      expect(client.stats()).toMatchObject({ queued: 0, inFlight: 1, dropped: 0 });
      const unbounded = within(receipt, 5000, 'the receipt once shut down');
      const late = client.track({ userId: 'u-outage', event: 'Later' });
      await client.shutdown({ timeoutMs: 200 });
      await expect(unbounded).resolves.toMatchObject({ delivered: false, error: { code: 'KIMLIK_DELIVERY_STOPPED' } });
      await expect(within(late, 1000, 'a receipt of an event queued at shutdown')).resolves.toMatchObject({
        delivered: false,
        error: { code: 'KIMLIK_DELIVERY_STOPPED' },
      });
      // Settled already: within() answers the outcome, not pending.
      await expect(receipt.within(10)).resolves.toMatchObject({
        delivered: false,
        error: { code: 'KIMLIK_DELIVERY_STOPPED' },
      });
    } finally {
      env.fault.script = () => ({ kind: 'proxy' });
    }
  });
});
