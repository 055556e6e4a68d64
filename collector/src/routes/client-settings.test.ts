import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCollector, type TestCollector } from '../../../tests/helpers/collector.js';

let c: TestCollector;
beforeAll(async () => {
  c = await startTestCollector();
});
afterAll(async () => {
  await c.close();
});

it("answers analytics.js's settings request for a write key with this collector as its only destination", async () => {
  const res = await fetch(`${c.url}/v1/projects/${c.writeKey}/settings`, {
    headers: { origin: 'https://shop.example' },
  });
  expect(res.status).toBe(200);
  expect(res.headers.get('access-control-allow-origin')).toBe('https://shop.example');
  const settings = (await res.json()) as Record<string, unknown>;
  expect(settings.integrations).toEqual({
    'Segment.io': { apiKey: c.writeKey, apiHost: `${new URL(c.url).host}/v1`, protocol: 'http' },
  });
  // No telemetry to Segment, no device-mode integrations or plugins to fetch from its CDN.
  expect(settings).toMatchObject({ metrics: { sampleRate: 0 }, remotePlugins: [] });
});

it('an unknown write key gets 401 and no settings', async () => {
  const res = await fetch(`${c.url}/v1/projects/wk_not_a_key/settings`);
  expect(res.status).toBe(401);
  expect(((await res.json()) as { error: { code: string } }).error.code).toBe('KIMLIK_AUTH_INVALID');
});

it('behind a TLS-terminating proxy, the settings name the address the browser used (X-Forwarded-Proto/Host)', async () => {
  // Otherwise analytics.js on an https page would post to http:// and the browser would block it.
  const res = await fetch(`${c.url}/v1/projects/${c.writeKey}/settings`, {
    headers: { 'x-forwarded-proto': 'https, http', 'x-forwarded-host': 'collect.example.com' },
  });
  const settings = (await res.json()) as { integrations: Record<string, unknown> };
  expect(settings.integrations['Segment.io']).toMatchObject({ apiHost: 'collect.example.com/v1', protocol: 'https' });
});

it('varies by Origin, since the answer echoes it and caches may keep it (Cache-Control: public)', async () => {
  // Without Origin in Vary, a shared cache could hand one site's Access-Control-Allow-Origin to
  // another site (or an answer without it to a browser), and analytics.js would be blocked.
  for (const headers of [{ origin: 'https://shop.example' }, {}] as Record<string, string>[]) {
    const res = await fetch(`${c.url}/v1/projects/${c.writeKey}/settings`, { headers });
    expect(res.headers.get('cache-control')).toMatch(/public/);
    const vary = (res.headers.get('vary') ?? '').split(',').map((v) => v.trim().toLowerCase());
    expect(vary).toEqual(expect.arrayContaining(['origin', 'host', 'x-forwarded-host', 'x-forwarded-proto']));
  }
});

describe("RudderStack's source config (GET {configUrl}/sourceConfig/)", () => {
  // What @rudderstack/analytics-js 3.34 requests: the key in the query and as Basic auth.
  const query = (key: string) =>
    `/sourceConfig/?p=npm&v=3.34.1&build=modern&writeKey=${key}&lockIntegrationsVersion=false`;
  const basic = (key: string) => `Basic ${Buffer.from(`${key}:`).toString('base64')}`;

  it('answers the write key with an enabled source and no destinations, readable cross-origin', async () => {
    const res = await fetch(`${c.url}${query(c.writeKey)}`, {
      headers: { origin: 'https://shop.example', authorization: basic(c.writeKey) },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe('https://shop.example');
    // The answer depends on the key, which may come as Basic auth alone.
    expect((res.headers.get('vary') ?? '').toLowerCase().split(/,\s*/)).toEqual(['origin', 'authorization']);
    const body = (await res.json()) as { source: Record<string, unknown> };
    expect(body.source).toMatchObject({ writeKey: c.writeKey, enabled: true, config: {}, destinations: [] });
    expect(typeof body.source.id).toBe('string');
  });

  it('takes the key from Basic auth alone or from ?writeKey= alone, at /sourceConfig with or without the slash', async () => {
    for (const [path, headers] of [
      ['/sourceConfig', { authorization: basic(c.writeKey) }],
      [`/sourceConfig?writeKey=${c.writeKey}`, {}],
    ] as const) {
      const res = await fetch(`${c.url}${path}`, { headers });
      expect(res.status, path).toBe(200);
    }
  });

  it("grants the browser's preflight (the SDK sends Authorization, which needs one)", async () => {
    const res = await fetch(`${c.url}${query(c.writeKey)}`, {
      method: 'OPTIONS',
      headers: {
        origin: 'https://shop.example',
        'access-control-request-method': 'GET',
        'access-control-request-headers': 'authorization',
      },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe('https://shop.example');
    expect(res.headers.get('access-control-allow-headers')).toBe('authorization');
    expect(res.headers.get('access-control-allow-methods')).toContain('GET');
  });

  it('an unknown write key gets 401 KIMLIK_AUTH_INVALID, none at all 401 KIMLIK_AUTH_MISSING', async () => {
    for (const [path, code] of [
      [query('wk_not_a_key'), 'KIMLIK_AUTH_INVALID'],
      ['/sourceConfig/', 'KIMLIK_AUTH_MISSING'],
    ] as const) {
      const res = await fetch(`${c.url}${path}`);
      expect(res.status).toBe(401);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe(code);
    }
  });
});
