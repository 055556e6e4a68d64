import { describe, expect, test } from 'vitest';
import { hasChromium, waitFor } from '../helpers/browser.js';
import { closeScenarioAfterEach, type Scenario, scriptTagPage, startScenario } from '../helpers/browser-scenario.js';

// Page exit: nothing queued may be lost, whatever IndexedDB had committed when the page went.

let scenario: Scenario | undefined;
closeScenarioAfterEach(() => scenario);

const AWAY = '<!doctype html><title>away</title><p>elsewhere</p>';

describe.skipIf(!hasChromium)('browser SDK at page exit (needs /usr/bin/chromium)', { timeout: 120_000 }, () => {
  test('200 tracks of 900 B and a navigation in the same task: all 200 stored once after the next visit', async () => {
    scenario = await startScenario({
      '/': scriptTagPage({ 'flush-interval-ms': 60_000, 'flush-at': 1000 }),
      '/away': AWAY,
    });
    const page = await scenario.browser.newPage();
    await page.goto(`${scenario.site.url}/`);
    await page.evaluate(() => window.kimlik.ready());
    await page.evaluate(() => {
      const pad = 'q'.repeat(900);
      for (let n = 0; n < 200; n++) window.kimlik.track('Leaving', { n, pad });
      location.href = '/away';
    });
    await page.waitForURL('**/away');
    // The beacon carries about 60 KB; IndexedDB had no time to commit the rest.
    await page.goto(`${scenario.site.url}/`);
    // This page waits a minute before sending (flush-interval-ms): flush() sends now.
    await page.evaluate(() => window.kimlik.flush());
    const events = await scenario.waitStored(200, 20_000);
    const ns = events.map((e) => (e.properties as { n: number }).n).sort((a, b) => a - b);
    expect(ns).toEqual(Array.from({ length: 200 }, (_, n) => n));
    // Merged once: the stash is gone from localStorage.
    expect(await page.evaluate(() => Object.keys(localStorage).filter((k) => k.includes('_stash_')))).toEqual([]);
  });

  test('behind a backlog the collector has not taken, the exit beacon carries the last event of the page', async () => {
    scenario = await startScenario({
      '/shop': scriptTagPage({ 'flush-at': 10 }),
      '/thanks': AWAY,
    });
    // The first request hangs (a collector that stopped answering): a backlog builds up behind it.
    let held = false;
    await scenario.browser.context.route('**/v1/batch', async (route) => {
      if (held) return route.continue();
      held = true;
      await new Promise((r) => setTimeout(r, 60_000));
      await route.abort().catch(() => undefined);
    });
    const page = await scenario.browser.newPage();
    await page.goto(`${scenario.site.url}/shop`);
    await page.evaluate(() => window.kimlik.ready());
    await page.evaluate(() => {
      const pad = 'v'.repeat(500);
      for (let n = 0; n < 150; n++) window.kimlik.track('Browse', { n, pad });
    });
    expect(await waitFor(() => held, 10_000)).toBe(true);
    await page.evaluate(() => {
      window.kimlik.track('Order Completed', { total: 99.5 });
      location.href = '/thanks';
    });
    await page.waitForURL('**/thanks');
    // Stored by the beacon alone: no later visit to /shop.
    expect(
      await waitFor(
        async () => (await scenario?.stored())?.some((e) => e.event === 'Order Completed') ?? false,
        10_000,
      ),
    ).toBe(true);
  });

  test('with the SDK on two pages of the site, Back restores the first from the back/forward cache, which then sends again', async () => {
    // Each page records its pageshow events: persisted is true for a page the cache restored.
    const page = scriptTagPage({ 'flush-interval-ms': 100 }).replace(
      '</head>',
      '<script>addEventListener("pageshow", (e) => (window.shows ??= []).push(e.persisted))</script></head>',
    );
    scenario = await startScenario({}, [], { bfcache: true });
    scenario.site.page('/list', page, true);
    scenario.site.page('/product', page, true);
    const tab = await scenario.browser.newPage();
    await tab.goto(`${scenario.site.url}/list`);
    await tab.evaluate(() => window.kimlik.ready());
    await tab.goto(`${scenario.site.url}/product`);
    await tab.evaluate(() => window.kimlik.ready());
    // A restored page fires no load event: done once restored (pageshow persisted) or reloaded (a
    // back navigation's entry says why the page was not restored).
    await tab.goBack({ waitUntil: 'commit' });
    const settled = () => {
      const shows = (window as unknown as { shows?: boolean[] }).shows;
      const entry = performance.getEntriesByType('navigation')[0] as PerformanceEntry & {
        notRestoredReasons?: { reasons?: { reason: string }[] } | null;
      };
      const notRestored = entry.notRestoredReasons?.reasons?.map((r) => r.reason);
      return shows?.length === 2 || notRestored ? { shows, notRestored } : null;
    };
    const shown = await (await tab.waitForFunction(settled, undefined, { timeout: 10_000 })).jsonValue();
    expect(shown).toEqual({ shows: [false, true], notRestored: undefined });
    // The restored page took the sending role back: its flush() resolves once the event is stored.
    await tab.evaluate(async () => {
      window.kimlik.track('Back on the list', { n: 1 });
      await window.kimlik.flush();
    });
    expect((await scenario.stored()).map((e) => e.event)).toEqual(['Back on the list']);
  });
});
