import { describe, expect, it } from 'vitest';
import { Kimlik } from '../../sdk-node/src/index.js';
import { startTestCollector } from '../helpers/collector.js';
import { faultedCollector } from '../helpers/faulted-collector.js';

describe('Node SDK → collector', () => {
  const env = faultedCollector();

  it('stores 10 000 events exactly once, and flush() resolves after the last ack', async () => {
    const errors: unknown[] = [];
    const client = new Kimlik({
      writeKey: env.collector.writeKey,
      endpoint: env.fault.url,
      onError: (e) => errors.push(e),
    });
    for (let i = 0; i < 10_000; i++) {
      client.track({ userId: `user-${i % 50}`, event: 'Order Completed', properties: { i, total: i / 100 } });
    }
    const last = client.track({ anonymousId: 'anon-1', event: 'Last' });
    await expect(client.flush()).resolves.toEqual({ pending: 0, timedOut: false });
    // Acknowledged means stored: read right after flush(), no waiting.
    const stored = await env.collector.storedEvents();
    expect(stored).toHaveLength(10_001);
    expect(new Set(stored.map((e) => e.messageId)).size).toBe(10_001);
    const sent = env.fault.deliveredCounts();
    expect(sent.size).toBe(10_001);
    expect([...sent.values()].every((n) => n === 1)).toBe(true);
    await expect(last).resolves.toMatchObject({ delivered: true });
    expect(errors).toEqual([]);
    expect(client.stats()).toMatchObject({ delivered: 10_001, dropped: 0, queued: 0, inFlight: 0 });
    await client.shutdown();
  });

  it('sends every event type with a UUIDv7 messageId and the library context', async () => {
    const client = new Kimlik({
      writeKey: env.collector.writeKey,
      endpoint: env.collector.url,
      onError: () => undefined,
    });
    const ids = await Promise.all([
      client.identify({ userId: 'u-types', traits: { plan: 'pro' } }),
      client.page({ userId: 'u-types', name: 'Home', category: 'Docs' }),
      client.screen({ userId: 'u-types', name: 'Settings' }),
      client.group({ userId: 'u-types', groupId: 'acme', traits: { seats: 3 } }),
      client.alias({ userId: 'u-types', previousId: 'anon-types' }),
    ]);
    expect(ids.every((r) => r.delivered)).toBe(true);
    const stored = (await env.collector.storedEvents()).filter((e) => e.userId === 'u-types');
    expect(stored.map((e) => e.type).sort()).toEqual(['alias', 'group', 'identify', 'page', 'screen']);
    for (const e of stored) {
      expect(e.messageId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect((e.context as { library: { name: string } }).library.name).toBe('@kimlik/node');
    }
    await client.shutdown();
  });

  it('reports an invalid event without throwing, and a collector rejection drops only that event', async () => {
    const errors: { code: string; messageIds: readonly string[] }[] = [];
    const client = new Kimlik({
      writeKey: env.collector.writeKey,
      endpoint: env.collector.url,
      onError: (e) => errors.push(e as never),
    });
    const noUser = client.track({ event: 'x' } as never);
    await expect(noUser).resolves.toMatchObject({ delivered: false });
    expect(errors[0]?.code).toBe('KIMLIK_DELIVERY_INVALID_EVENT');
    // A key the collector forbids (prototype pollution guard) is only caught server-side.
    const bad = client.track({ userId: 'u-rej', event: 'bad', properties: JSON.parse('{"__proto__":{"x":1}}') });
    const good = client.track({ userId: 'u-rej', event: 'good' });
    await client.flush();
    await expect(bad).resolves.toMatchObject({ delivered: false });
    await expect(good).resolves.toMatchObject({ delivered: true });
    expect(errors[1]).toMatchObject({ code: 'KIMLIK_DELIVERY_REJECTED', reason: 'KIMLIK_EVENT_FORBIDDEN_KEY' });
    const stored = (await env.collector.storedEvents()).filter((e) => e.userId === 'u-rej');
    expect(stored.map((e) => e.event)).toEqual(['good']);
    await client.shutdown();
  });

  it('an event with a messageId the collector would refuse (100 characters) is reported, not counted as delivered', async () => {
    const errors: { code: string }[] = [];
    const client = new Kimlik({
      writeKey: env.collector.writeKey,
      endpoint: env.collector.url,
      onError: (e) => errors.push(e as never),
    });
    // Refused at the call (the collector would refuse it too, quoting it cut short).
    const long = client.track({ userId: 'u-long', event: 'long id', messageId: `order-${'x'.repeat(120)}` });
    const fine = client.track({ userId: 'u-long', event: 'fine' });
    await client.flush();
    await expect(long).resolves.toMatchObject({ delivered: false });
    await expect(fine).resolves.toMatchObject({ delivered: true });
    expect(errors.map((e) => e.code)).toEqual(['KIMLIK_DELIVERY_INVALID_EVENT']);
    expect(client.stats()).toMatchObject({ delivered: 1 });
    await client.shutdown();
  });

  it('maxMessageIdLength follows a collector configured for longer ids (KIMLIK_MAX_MESSAGE_ID_LENGTH)', async () => {
    const long = await startTestCollector({ maxMessageIdLength: 200 });
    try {
      const client = new Kimlik({ writeKey: long.writeKey, endpoint: long.url, maxMessageIdLength: 200 });
      const messageId = `order-${'x'.repeat(150)}`;
      await expect(client.track({ userId: 'u-long', event: 'long id', messageId })).resolves.toMatchObject({
        delivered: true,
      });
      expect((await long.storedEvents()).map((e) => e.messageId)).toEqual([messageId]);
      await client.shutdown();
      expect(() => new Kimlik({ writeKey: 'wk', maxMessageIdLength: 513 })).toThrow(/maxMessageIdLength.*512/);
    } finally {
      await long.close();
    }
  });
});
