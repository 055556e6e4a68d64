import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCollector, type TestCollector } from '../../../tests/helpers/collector.js';

const b64 = (key: string) => Buffer.from(`${key}:`).toString('base64');

let n = 0;
const track = () => ({ type: 'track', event: 'Signed Up', userId: 'u1', messageId: `auth-${++n}-${Date.now()}` });

async function send(c: TestCollector, headers: Record<string, string>, body: Record<string, unknown> = track()) {
  const res = await fetch(`${c.url}/v1/track`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as { error?: { code: string } } };
}

describe('the Authorization scheme is case-insensitive (RFC 9110 §11.1)', () => {
  let c: TestCollector;
  beforeAll(async () => {
    c = await startTestCollector();
  });
  afterAll(async () => {
    await c.close();
  });

  it('accepts the write key under "basic", "BASIC" and "Basic"', async () => {
    for (const scheme of ['basic', 'BASIC', 'bAsIc', 'Basic']) {
      const r = await send(c, { authorization: `${scheme} ${b64(c.writeKey)}` });
      expect([scheme, r.status]).toEqual([scheme, 200]);
    }
  });

  it('accepts the admin key under "bearer" and "BEARER"', async () => {
    for (const scheme of ['bearer', 'BEARER', 'Bearer']) {
      const res = await fetch(`${c.url}/v1/events?limit=1`, { headers: { authorization: `${scheme} ${c.adminKey}` } });
      expect([scheme, res.status]).toEqual([scheme, 200]);
    }
  });

  it('still refuses another scheme or a wrong key', async () => {
    expect((await send(c, { authorization: `Digest ${b64(c.writeKey)}` })).body.error?.code).toBe(
      'KIMLIK_AUTH_MISSING',
    );
    const wrongAdmin = await fetch(`${c.url}/v1/events`, { headers: { authorization: 'bearer ak_wrong' } });
    expect(wrongAdmin.status).toBe(401);
  });
});

describe('KIMLIK_CORS_ORIGINS refuses ingest from other browser origins', () => {
  let c: TestCollector;
  beforeAll(async () => {
    c = await startTestCollector({ corsOrigins: ['https://a.example'] });
  });
  afterAll(async () => {
    await c.close();
  });

  it('answers 403 KIMLIK_ORIGIN_FORBIDDEN to another origin and stores nothing (a text/plain beacon needs no preflight)', async () => {
    const event = { ...track(), writeKey: c.writeKey };
    const res = await fetch(`${c.url}/v1/t`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain', origin: 'https://evil.example' },
      body: JSON.stringify(event),
    });
    expect(res.status).toBe(403);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('KIMLIK_ORIGIN_FORBIDDEN');
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
    const withBasic = track();
    const r = await send(c, { authorization: `Basic ${b64(c.writeKey)}`, origin: 'https://evil.example' }, withBasic);
    expect(r.status).toBe(403);
    const sent = [event.messageId, withBasic.messageId];
    expect((await c.storedEvents()).filter((e) => sent.includes(e.messageId as string))).toEqual([]);
  });

  it('refuses another origin on a percent-encoded path too (/%76%31/track is routed as /v1/track; it was stored)', async () => {
    const sent: string[] = [];
    for (const path of ['/%76%31/track', '/v%31/batch', '/beacon/%76%31/batch']) {
      const event = { ...track(), writeKey: c.writeKey };
      sent.push(event.messageId);
      const body = path.endsWith('batch') ? { batch: [event], writeKey: c.writeKey } : event;
      const res = await fetch(`${c.url}${path}?writeKey=${c.writeKey}`, {
        method: 'POST',
        headers: { 'content-type': 'text/plain', origin: 'https://evil.example' },
        body: JSON.stringify(body),
      });
      expect(res.status, path).toBe(403);
    }
    expect((await c.storedEvents()).filter((e) => sent.includes(e.messageId as string))).toEqual([]);
  });

  it('accepts the listed origin, and servers (no Origin header)', async () => {
    const auth = { authorization: `Basic ${b64(c.writeKey)}` };
    expect((await send(c, { ...auth, origin: 'https://a.example' })).status).toBe(200);
    expect((await send(c, auth)).status).toBe(200);
  });

  it("accepts the collector's own origin (its demo page) though the list does not name it", async () => {
    const { host } = new URL(c.url);
    const auth = { authorization: `Basic ${b64(c.writeKey)}` };
    expect((await send(c, { ...auth, origin: `http://${host}` })).status).toBe(200);
  });

  it('leaves admin APIs to their key: the origin list is about browsers sending events', async () => {
    const res = await fetch(`${c.url}/v1/events?limit=1`, {
      headers: { authorization: `Bearer ${c.adminKey}`, origin: 'https://evil.example' },
    });
    expect(res.status).toBe(200);
  });

  it("'*' (the default) accepts any origin", async () => {
    const open = await startTestCollector();
    try {
      const r = await send(open, { authorization: `Basic ${b64(open.writeKey)}`, origin: 'https://evil.example' });
      expect(r.status).toBe(200);
    } finally {
      await open.close();
    }
  });
});
