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
