import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestCollector, type TestCollector } from '../../../tests/helpers/collector.js';

let c: TestCollector;
beforeAll(async () => {
  c = await startTestCollector({ demo: true });
});
afterAll(async () => {
  await c.close();
});

it('the demo page loads the SDK from the address the browser used', async () => {
  const page = await (await fetch(`${c.url}/`)).text();
  expect(page).toContain(`${c.url}/kimlik.js`);
});

it('behind a TLS-terminating proxy, the demo page names the address the browser used (X-Forwarded-Proto/Host)', async () => {
  // An https page loading http://…/kimlik.js is mixed content: the browser blocks the SDK.
  const page = await (
    await fetch(`${c.url}/`, {
      headers: { 'x-forwarded-proto': 'https, http', 'x-forwarded-host': 'collect.example.com' },
    })
  ).text();
  expect(page).toContain('https://collect.example.com/kimlik.js');
  expect(page).toContain('https://collect.example.com/v1/track');
  expect(page).not.toContain(c.url);
});
