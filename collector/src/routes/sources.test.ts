import { afterEach, beforeEach, expect, it } from 'vitest';
import { startTestCollector, type TestCollector } from '../../../tests/helpers/collector.js';
import { describeStores } from '../../../tests/helpers/stores.js';

let c: TestCollector;

async function admin(method: string, path: string, body?: unknown) {
  const res = await fetch(`${c.url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${c.adminKey}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

/** One track sent with `writeKey` (Basic auth), from a browser `origin` when given. */
async function send(writeKey: string, origin?: string) {
  const res = await fetch(`${c.url}/v1/track`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      authorization: `Basic ${btoa(`${writeKey}:`)}`,
      ...(origin ? { origin } : {}),
    },
    body: JSON.stringify({ userId: 'u1', event: 'Signed Up' }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

describeStores('sources API', (store) => {
  beforeEach(async () => {
    c = await startTestCollector({ database: store.database() });
  });
  afterEach(async () => {
    await c.close();
  });

  it('creates a source with its own write key; its events are stored under it', async () => {
    const created = await admin('POST', '/v1/sources', { name: 'iOS app' });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ name: 'iOS app', allowedOrigins: [] });
    expect(created.body.writeKey).toMatch(/^wk_/);
    expect(created.body.writeKey).not.toBe(c.writeKey);
    expect((await send(created.body.writeKey)).status).toBe(200);
    const listed = await admin('GET', '/v1/sources');
    expect(listed.body.sources.map((s: { name: string }) => s.name).sort()).toEqual(['default', 'iOS app']);
    const events = (await admin('GET', '/v1/events?limit=10')).body.events as { sourceId: number }[];
    expect(events.map((e) => e.sourceId)).toEqual([created.body.id]);
  });

  it('a source restricted to origins accepts browser events only from them', async () => {
    const created = await admin('POST', '/v1/sources', { name: 'shop', allowedOrigins: ['https://shop.example'] });
    const key = created.body.writeKey as string;
    expect((await send(key, 'https://shop.example')).status).toBe(200);
    const refused = await send(key, 'https://evil.example');
    expect(refused.status).toBe(403);
    expect(refused.body.error.code).toBe('KIMLIK_ORIGIN_FORBIDDEN');
    // Opened up again: any origin.
    const patched = await admin('PATCH', `/v1/sources/${created.body.id}`, { allowedOrigins: [] });
    expect(patched.body).toMatchObject({ id: created.body.id, allowedOrigins: [] });
    expect((await send(key, 'https://evil.example')).status).toBe(200);
  });

  it('rotating a key: the old one gets 401 at once, the new one works', async () => {
    const created = await admin('POST', '/v1/sources', { name: 'server' });
    const rotated = await admin('POST', `/v1/sources/${created.body.id}/rotate-key`);
    expect(rotated.status).toBe(200);
    expect(rotated.body.writeKey).not.toBe(created.body.writeKey);
    expect((await send(created.body.writeKey)).status).toBe(401);
    expect((await send(rotated.body.writeKey)).status).toBe(200);
  });

  it('refuses bad input with a reason, unknown sources with 404, and anyone without the admin key', async () => {
    for (const body of [
      {},
      { name: '' },
      { name: 'x', allowedOrigins: 'https://a.example' },
      { name: 'x', allowedOrigins: ['https://a.example/path'] },
    ]) {
      const r = await admin('POST', '/v1/sources', body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.body.error.code).toBe('KIMLIK_REQUEST_INVALID');
    }
    expect((await admin('PATCH', '/v1/sources/999', { name: 'y' })).status).toBe(404);
    expect((await admin('POST', '/v1/sources/abc/rotate-key')).status).toBe(404);
    // The test collector pins the default source's key through configuration.
    expect((await admin('POST', '/v1/sources/1/rotate-key')).status).toBe(400);
    const anonymous = await fetch(`${c.url}/v1/sources`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Basic ${btoa(`${c.writeKey}:`)}` },
      body: JSON.stringify({ name: 'sneaky' }),
    });
    expect(anonymous.status).toBe(401);
  });
});
