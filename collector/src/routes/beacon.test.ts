import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestCollector, type TestCollector } from '../../../tests/helpers/collector.js';

// RudderStack's browser SDK with useBeacon: true sends navigator.sendBeacon(url, Blob(text/plain))
// to {dataPlaneUrl}/beacon/v1/batch?writeKey=…; a beacon cannot see the answer, so any refusal
// loses the events.
let c: TestCollector;
beforeAll(async () => {
  c = await startTestCollector({ corsOrigins: ['https://shop.example'] });
});
afterAll(async () => {
  await c.close();
});

const beacon = (path: string, messageId: string, origin = 'https://shop.example') =>
  fetch(`${c.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'text/plain;charset=UTF-8', origin },
    body: JSON.stringify({
      batch: [{ type: 'track', anonymousId: 'beacon-a', event: 'Beaconed', messageId }],
      sentAt: new Date().toISOString(),
    }),
  });

it('POST /beacon/v1/batch?writeKey=… (text/plain) is stored as /v1/batch would store it', async () => {
  const res = await beacon(`/beacon/v1/batch?writeKey=${c.writeKey}`, 'beacon-1');
  expect(res.status).toBe(200);
  expect(await res.json()).toMatchObject({ success: true, accepted: 1 });
  expect((await c.storedEvents()).map((e) => e.messageId)).toContain('beacon-1');
});

it('an unknown key in its query string gets 401; elsewhere a key in the query string is not read', async () => {
  expect((await beacon('/beacon/v1/batch?writeKey=wk_not_a_key', 'beacon-2')).status).toBe(401);
  expect((await beacon(`/v1/batch?writeKey=${c.writeKey}`, 'beacon-3')).status).toBe(401);
});

it('the same key repeated in the query string (a base URL that already carried it) is accepted; two different keys are refused by name', async () => {
  const res = await beacon(`/beacon/v1/batch?writeKey=${c.writeKey}&writeKey=${c.writeKey}`, 'beacon-5');
  expect(res.status).toBe(200);
  expect((await c.storedEvents()).map((e) => e.messageId)).toContain('beacon-5');
  const two = await beacon(`/beacon/v1/batch?writeKey=${c.writeKey}&writeKey=wk_other_key`, 'beacon-6');
  expect(two.status).toBe(401);
  expect((await two.json()).error.message).toMatch(/two different write keys/);
});

it('an origin KIMLIK_CORS_ORIGINS does not list gets 403 there too', async () => {
  const res = await beacon(`/beacon/v1/batch?writeKey=${c.writeKey}`, 'beacon-4', 'https://evil.example');
  expect(res.status).toBe(403);
  expect((await c.storedEvents()).map((e) => e.messageId)).not.toContain('beacon-4');
});
