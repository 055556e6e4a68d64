import { afterAll, beforeAll, expect, it } from 'vitest';
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
