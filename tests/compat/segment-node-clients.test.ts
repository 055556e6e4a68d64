// Existing Segment-compatible server libraries, unmodified, pointed at the collector: what a user
// migrating from Segment or RudderStack does on day one.

import Rudder from '@rudderstack/rudder-sdk-node';
import { Analytics } from '@segment/analytics-node';
import { expect, it } from 'vitest';
import { waitFor } from '../helpers/fault-server.js';
import { faultedCollector } from '../helpers/faulted-collector.js';

const env = faultedCollector('test');

async function profile(query: string) {
  const res = await fetch(`${env.collector.url}/v1/profiles?${query}`, {
    headers: { authorization: `Bearer ${env.collector.adminKey}` },
  });
  expect(res.status).toBe(200);
  return (await res.json()) as { identifiers: { type: string; value: string }[]; traits: Record<string, unknown> };
}

const identifiersOf = (p: { identifiers: { type: string; value: string }[] }) =>
  p.identifiers.map((i) => `${i.type}:${i.value}`).sort();

it('@segment/analytics-node: every call type stored once, retried 5xx batches deduplicated, one profile', async () => {
  // The first batch is answered 503 after nothing was stored; the library retries it.
  env.fault.script = ({ index }) => (index === 0 ? { kind: 'status', status: 503 } : { kind: 'proxy' });
  const errors: unknown[] = [];
  const analytics = new Analytics({ writeKey: env.collector.writeKey, host: env.fault.url, flushAt: 3, maxRetries: 5 });
  analytics.on('error', (e) => errors.push(e));
  analytics.identify({ anonymousId: 'laptop', userId: 'ada', traits: { email: 'Ada@Example.com', plan: 'pro' } });
  analytics.track({ userId: 'ada', event: 'Order Completed', properties: { total: 99.5 } });
  analytics.page({ anonymousId: 'laptop', name: 'Home', properties: { path: '/' } });
  analytics.screen({ userId: 'ada', name: 'Settings' });
  analytics.group({ userId: 'ada', groupId: 'acme', traits: { name: 'Acme' } });
  analytics.alias({ userId: 'ada', previousId: 'old-device' });
  await analytics.closeAndFlush({ timeout: 10_000 });
  expect(errors).toEqual([]);
  expect(env.fault.requests.some((r) => r.status === 503)).toBe(true);

  const stored = await env.collector.storedEvents();
  expect(stored.map((e) => e.type).sort()).toEqual(['alias', 'group', 'identify', 'page', 'screen', 'track']);
  expect(new Set(stored.map((e) => e.messageId)).size).toBe(6);
  expect(
    stored.every((e) => (e.context as { library: { name: string } }).library.name.includes('analytics-node')),
  ).toBe(true);
  const p = await profile('email=ada%40example.com');
  expect(identifiersOf(p)).toEqual([
    'anonymousId:laptop',
    'anonymousId:old-device',
    'email:ada@example.com',
    'userId:ada',
  ]);
  expect(p.traits).toMatchObject({ plan: 'pro' });
});

it('@rudderstack/rudder-sdk-node: gzipped batches (sent as form-urlencoded) are stored and resolved', async () => {
  const client = new Rudder(env.collector.writeKey, {
    dataPlaneUrl: env.fault.url,
    flushAt: 2,
    flushInterval: 100,
    logLevel: 'error',
  });
  const errors: unknown[] = [];
  const done = (err?: unknown) => err && errors.push(err);
  client.identify({ anonymousId: 'phone', userId: 'grace', traits: { email: 'grace@example.com' } }, done);
  client.track({ userId: 'grace', event: 'Signed Up', properties: { plan: 'team' } }, done);
  client.page({ anonymousId: 'phone', name: 'Pricing' }, done);
  // The library's flush callback fires after its first request, so wait for what arrived.
  await waitFor(async () => (await env.collector.storedEvents()).length === 3, 10_000, 'three events stored');
  expect(errors).toEqual([]);
  expect(env.fault.requests.every((r) => r.status === 200)).toBe(true);
  const stored = await env.collector.storedEvents();
  expect(stored.map((e) => e.type).sort()).toEqual(['identify', 'page', 'track']);
  const p = await profile('userId=grace');
  expect(identifiersOf(p)).toEqual(['anonymousId:phone', 'email:grace@example.com', 'userId:grace']);
});
