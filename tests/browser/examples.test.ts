import type { Server } from 'node:http';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, test } from 'vitest';
import { serveExample } from '../../examples/script-tag/serve.mjs';
import { hasChromium, launchBrowser, type TestBrowser, waitFor } from '../helpers/browser.js';
import { startTestCollector, type TestCollector } from '../helpers/collector.js';

let collector: TestCollector | undefined;
let browser: TestBrowser | undefined;
let server: Server | undefined;

afterEach(async () => {
  if (browser) expect(browser.pageErrors).toEqual([]);
  await browser?.close();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  await collector?.close();
  browser = undefined;
  server = undefined;
  collector = undefined;
});

async function stored(count: number) {
  let events: Record<string, unknown>[] = [];
  await waitFor(async () => {
    events = (await collector?.storedEvents()) ?? [];
    return events.length >= count;
  });
  return events;
}

async function start(example: 'script-tag' | 'spa') {
  collector = await startTestCollector();
  const served = await serveExample(fileURLToPath(new URL(`../../examples/${example}/`, import.meta.url)), {
    port: 0,
    collectorUrl: collector.url,
    writeKey: collector.writeKey,
  });
  server = served.server;
  browser = await launchBrowser();
  const page = await browser.newPage();
  await page.goto(served.url);
  return { page, url: served.url };
}

describe.skipIf(!hasChromium)('examples against the collector (needs /usr/bin/chromium)', { timeout: 120_000 }, () => {
  test('examples/script-tag: page view, a purchase, login and logout, sent cross-origin to the collector', async () => {
    const { page } = await start('script-tag');
    await page.click('#buy');
    await page.click('#login');
    await page.click('#logout');
    await page.click('#buy');
    const events = await stored(4);
    expect(events.map((e) => e.event ?? e.type)).toEqual(['page', 'Order Completed', 'identify', 'Order Completed']);
    expect(events[2]?.traits).toMatchObject({ email: 'grace@example.com' });
    expect(events[3]?.userId).toBeUndefined();
    expect(events[3]?.anonymousId).not.toBe(events[1]?.anonymousId);
  });

  test('examples/spa: client-side routes are page views; login identifies, logout resets', async () => {
    const { page } = await start('spa');
    await page.click('a[href="/pricing"]');
    await page.click('#upgrade');
    await page.click('a[href="/account"]');
    await page.click('button[type="submit"]');
    await page.waitForSelector('#who');
    await page.click('#logout');
    const events = await stored(8);
    expect(events.map((e) => e.event ?? `${e.type}:${(e.properties as { path?: string })?.path ?? ''}`)).toEqual([
      'page:/',
      'page:/pricing',
      'Plan Upgraded',
      'page:/account',
      'identify:',
      'Logged In',
      'Logged Out',
      'page:/',
    ]);
    const identify = events[4] as Record<string, unknown>;
    expect(identify.traits).toMatchObject({ email: 'ada@example.com' });
    expect(events[6]?.userId).toBe('ada');
    expect(events[7]?.userId).toBeUndefined();
    expect(events[7]?.anonymousId).not.toBe(events[0]?.anonymousId);
  });

  test('the demo page at / runs the real bundle through the snippet', async () => {
    collector = await startTestCollector({ demo: true });
    browser = await launchBrowser();
    const page = await browser.newPage();
    await page.goto(`${collector.url}/`);
    await page.waitForFunction(() => !Array.isArray((window as unknown as { kimlik: unknown }).kimlik));
    await page.click('#send');
    const events = await stored(2);
    expect(events.map((e) => e.event ?? e.type)).toEqual(['page', 'Demo Button Clicked']);
    expect(await page.textContent('#user')).toContain('anonymousId');
  });
});
