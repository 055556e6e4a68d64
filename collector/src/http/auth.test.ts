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
