import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestCollector, type TestCollector } from '../../../tests/helpers/collector.js';

let c: TestCollector;
beforeAll(async () => {
  c = await startTestCollector();
});
afterAll(async () => {
  await c.close();
});

const preflight = async (path: string, method: string) => {
  const res = await fetch(`${c.url}${path}`, {
    method: 'OPTIONS',
    headers: {
      origin: 'https://admin.example',
      'access-control-request-method': method,
      'access-control-request-headers': 'authorization, content-type',
    },
  });
  expect(res.status).toBe(204);
  return (res.headers.get('access-control-allow-methods') ?? '').split(/,\s*/);
};

it('a preflight grants PATCH, so a page on another origin can edit a source (PATCH /v1/sources/{id})', async () => {
  expect(await preflight('/v1/sources/2', 'PATCH')).toContain('PATCH');
});

it('a preflight grants every method the /v1 API answers to', async () => {
  const used = new Set(
    c.collector.routes.filter((r) => r.url.startsWith('/v1/') && !r.url.includes('*')).map((r) => r.method),
  );
  expect(used.size).toBeGreaterThan(2);
  expect(await preflight('/v1/sources', 'POST')).toEqual(expect.arrayContaining([...used]));
});

it('a 404 outside the API (an SDK endpoint set to a wrong path) is readable by the page that sent it', async () => {
  // Without the header the browser shows a CORS error and hides the 404 naming the route it tried.
  for (const [method, path] of [
    ['POST', '/api/v1/batch'],
    ['GET', '/kimlik/kimlik.js'],
  ]) {
    const res = await fetch(`${c.url}${path}`, {
      method,
      headers: { origin: 'https://shop.example', 'content-type': 'text/plain' },
      body: method === 'POST' ? '{}' : undefined,
    });
    expect(res.status).toBe(404);
    expect(res.headers.get('access-control-allow-origin')).toBe('https://shop.example');
    expect((await res.json()).error.code).toBe('KIMLIK_NOT_FOUND');
  }
});
