import { existsSync } from 'node:fs';
import { afterEach, describe, expect, test } from 'vitest';
import { startTestCollector, type TestCollector } from '../helpers/collector.js';

const built = existsSync(new URL('../../sdk-web/dist/kimlik.min.js', import.meta.url));
if (!built && process.env.CI) throw new Error('CI needs the built bundle: npm install runs `npm run build`');
let collector: TestCollector | undefined;
afterEach(async () => {
  await collector?.close();
  collector = undefined;
});

describe.skipIf(!built)('GET /kimlik.js (needs `npm run build`)', { timeout: 120_000 }, () => {
  test('serves the built bundle with caching headers and answers 304 to a matching ETag', async () => {
    collector = await startTestCollector();
    const res = await fetch(`${collector.url}/kimlik.js`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/javascript/);
    expect(res.headers.get('cache-control')).toMatch(/max-age=\d+/);
    const body = await res.text();
    expect(body).toContain('@kimlik/web');
    const etag = res.headers.get('etag') as string;
    const again = await fetch(`${collector.url}/kimlik.js`, { headers: { 'if-none-match': etag } });
    expect(again.status).toBe(304);
  });
});
