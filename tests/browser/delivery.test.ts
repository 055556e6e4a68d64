import { readFileSync } from 'node:fs';
import type { Page } from 'playwright-core';
import { describe, expect, test } from 'vitest';
import { hasChromium, waitFor } from '../helpers/browser.js';
import {
  closeScenarioAfterEach,
  goOffline,
  goOnline,
  nByDevice,
  queuedInBrowser,
  type Scenario,
  scriptTagPage,
  startScenario,
} from '../helpers/browser-scenario.js';

/** Every `n` in 0..count-1 exactly once, and in call order by the device's clock. */
function expectExactlyOnceInOrder(events: Record<string, unknown>[], count: number) {
  const ns = events.map((e) => (e.properties as { n?: number } | undefined)?.n ?? (e.traits as { n?: number })?.n);
  expect(ns.length).toBe(count);
  expect([...ns].sort((a, b) => (a ?? 0) - (b ?? 0))).toEqual(Array.from({ length: count }, (_, i) => i));
  expect(new Set(events.map((e) => e.messageId)).size).toBe(count);
  for (const sequence of nByDevice(events).values()) expect(sequence).toEqual([...sequence].sort((a, b) => a - b));
}

/** A page whose queue holds `max` events, ready and offline: what a loop of calls then fills. */
async function offlinePageWithBound(s: Scenario, max: number): Promise<{ page: Page; warnings: string[] }> {
  s.site.page('/', scriptTagPage({ 'max-queue-events': max }));
  const page = await s.browser.newPage();
  const warnings: string[] = [];
  page.on('console', (m) => warnings.push(m.text()));
  await page.goto(`${s.site.url}/`);
  await page.evaluate(() => window.kimlik.ready());
  await goOffline(s, [page]);
  return { page, warnings };
}

/** Answers `path` and the bundle from memory, so a page loads while the browser is offline. */
async function serveFromCache(s: Scenario, path: string, html: string) {
  const bundle = readFileSync(new URL('../../sdk-web/dist/kimlik.min.js', import.meta.url));
  await s.browser.context.route(`${s.site.url}${path}`, (route) =>
    route.fulfill({ contentType: 'text/html', body: html }),
  );
  await s.browser.context.route(`${s.site.url}/kimlik.js`, (route) =>
    route.fulfill({ contentType: 'application/javascript', body: bundle }),
  );
}

/**
 * Both tabs go offline and track 10 events each (`name`, n = 0…19) into the shared queue; back
 * online, all 20 must be stored and posted once. Then a sentinel from each tab, queued after its
 * 10: a tab sending on its own (a second sender) would post its queue, oldest first, before its
 * sentinel, so once both sentinels are stored every event posted so far has been counted.
 */
/** A new page of the site, taken offline once the SDK is ready, that then tracked 20 events named `name`. */
async function trackedOffline(s: Scenario, name: string): Promise<Page> {
  const page = await s.browser.newPage();
  await page.goto(`${s.site.url}/`);
  await page.evaluate(() => window.kimlik.ready());
  await goOffline(s, [page]);
  await page.evaluate((event) => {
    for (let n = 0; n < 20; n++) window.kimlik.track(event, { n });
  }, name);
  return page;
}

async function twoTabsOfflineThenOnline(s: Scenario, a: Page, b: Page, name: string): Promise<void> {
  await goOffline(s, [a, b]);
  await Promise.all(
    [a, b].map((tab, t) =>
      tab.evaluate(
        ([event, offset]) => {
          for (let i = 0; i < 10; i++) window.kimlik.track(event, { n: offset + i });
        },
        [name, t * 10] as const,
      ),
    ),
  );
  expect(await waitFor(async () => (await queuedInBrowser(a)) === 20, 15_000)).toBe(true);
  await goOnline(s);
  await s.waitStored(20);
  await Promise.all([a, b].map((tab, t) => tab.evaluate((n) => window.kimlik.track('Sentinel', { n }), 100 + t)));
  const events = await s.waitStored(22);
  expect(events).toHaveLength(22);
  const ns = events
    .filter((e) => e.event === name)
    .map((e) => (e.properties as { n: number }).n)
    .sort((x, y) => x - y);
  expect(ns).toEqual(Array.from({ length: 20 }, (_, i) => i));
  // The proxy records a request once the collector has answered it, a moment after the events are
  // stored. Each tab posts one request at a time, so a tab's earlier requests are recorded before
  // the one carrying its sentinel: once 22 events are recorded, nothing posted earlier is missing.
  const posted = () => s.site.requests.filter((r) => r.status === 200).reduce((sum, r) => sum + r.events, 0);
  await waitFor(() => posted() >= 22, 10_000);
  expect(posted()).toBe(22);
}

let scenario: Scenario | undefined;
closeScenarioAfterEach(() => scenario);

describe.skipIf(!hasChromium)('browser SDK delivery (needs /usr/bin/chromium)', { timeout: 120_000 }, () => {
  test('online: 50 mixed calls are stored exactly once, in order', async () => {
    scenario = await startScenario({ '/': scriptTagPage() });
    const page = await scenario.browser.newPage();
    await page.goto(`${scenario.site.url}/`);
    await page.evaluate(() => {
      const k = window.kimlik;
      for (let n = 0; n < 50; n++) {
        if (n === 10) k.identify('user-1', { n, email: 'ada@example.com' });
        else if (n === 20) k.page('Pricing', { n });
        else if (n === 30) k.group('acme', { n });
        else k.track('Clicked', { n });
      }
    });
    const events = await scenario.waitStored(50);
    await new Promise((r) => setTimeout(r, 300));
    expectExactlyOnceInOrder(await scenario.stored(), 50);
    const track = events.find((e) => e.type === 'track') as Record<string, unknown>;
    const context = track.context as Record<string, Record<string, unknown>>;
    expect(context.library?.name).toBe('@kimlik/web');
    expect(context.page?.url).toBe(`${scenario.site.url}/`);
    expect(typeof (track.context as Record<string, unknown>).userAgent).toBe('string');
    expect(track.messageId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7/);
  });

  test('offline, 20 tracks, reload while offline, online: all 20 stored once', async () => {
    scenario = await startScenario({ '/': scriptTagPage() });
    // Offline, the reload is served the way a service worker or the HTTP cache would serve it.
    await serveFromCache(scenario, '/', scriptTagPage());
    const page = await trackedOffline(scenario, 'Offline');
    expect(await waitFor(async () => (await queuedInBrowser(page)) === 20, 15_000)).toBe(true);
    await page.reload();
    await page.evaluate(() => window.kimlik.ready());
    expect(await queuedInBrowser(page)).toBe(20);
    expect(await scenario.stored()).toEqual([]);
    await goOnline(scenario);
    const events = await scenario.waitStored(20);
    expectExactlyOnceInOrder(events, 20);
    expect(await waitFor(async () => (await queuedInBrowser(page)) === 0, 15_000)).toBe(true);
  });

  test('IndexedDB unavailable (localStorage works), offline, 20 tracks, reload: all 20 stored once', async () => {
    scenario = await startScenario({ '/': scriptTagPage() });
    await serveFromCache(scenario, '/', scriptTagPage());
    // As in private windows of browsers without IndexedDB there: the queue lives in memory.
    await scenario.browser.context.addInitScript(() => {
      Object.defineProperty(window, 'indexedDB', {
        get: () => {
          throw new DOMException('The operation is insecure.', 'SecurityError');
        },
      });
    });
    const page = await trackedOffline(scenario, 'Memory');
    await page.reload();
    await page.evaluate(() => window.kimlik.ready());
    expect(await scenario.stored()).toEqual([]);
    await goOnline(scenario);
    expectExactlyOnceInOrder(await scenario.waitStored(20), 20);
  });

  test('20 tracks then immediate navigation away: all 20 stored', async () => {
    scenario = await startScenario({
      '/': scriptTagPage({ 'flush-interval-ms': 60_000, 'flush-at': 1000 }),
      '/away': '<!doctype html><title>away</title><p>elsewhere</p>',
    });
    const page = await scenario.browser.newPage();
    await page.goto(`${scenario.site.url}/`);
    await page.evaluate(() => window.kimlik.ready());
    await page.evaluate(() => {
      for (let n = 0; n < 20; n++) window.kimlik.track('Leaving', { n });
      location.href = '/away';
    });
    await page.waitForURL('**/away');
    let events = await scenario.waitStored(20, 5000);
    if (events.length < 20) {
      // "after the next visit at the latest": the queue re-sends what the beacon did not carry.
      await page.goto(`${scenario.site.url}/`);
      events = await scenario.waitStored(20);
    }
    expectExactlyOnceInOrder(events, 20);
  });

  test('two tabs offline, 10 tracks each, online: 20 stored, no duplicates', async () => {
    scenario = await startScenario({ '/': scriptTagPage() });
    const a = await scenario.browser.newPage();
    const b = await scenario.browser.newPage();
    await a.goto(`${scenario.site.url}/`);
    await b.goto(`${scenario.site.url}/`);
    await Promise.all([a.evaluate(() => window.kimlik.ready()), b.evaluate(() => window.kimlik.ready())]);
    await twoTabsOfflineThenOnline(scenario, a, b, 'Tab');
  });

  test('503 for 5 s then 200: nothing lost; 429 Retry-After is honoured', async () => {
    scenario = await startScenario({ '/': scriptTagPage({ 'retry-base-ms': 200 }) });
    const page = await scenario.browser.newPage();
    await page.goto(`${scenario.site.url}/`);
    await page.evaluate(() => window.kimlik.ready());
    const start = Date.now();
    scenario.site.fault({ status: 503, forMs: 5000 });
    await page.evaluate(() => {
      for (let n = 0; n < 10; n++) window.kimlik.track('During outage', { n });
    });
    let events = await scenario.waitStored(10, 45_000);
    expect(events.length).toBe(10);
    expect(Date.now() - start).toBeGreaterThanOrEqual(5000);
    expect(scenario.site.requests.some((r) => r.status === 503)).toBe(true);

    scenario.site.requests.length = 0;
    scenario.site.fault({ status: 429, retryAfter: 2, forMs: 1500 });
    await page.evaluate(() => {
      for (let n = 10; n < 20; n++) window.kimlik.track('Throttled', { n });
      void window.kimlik.flush();
    });
    events = await scenario.waitStored(20, 45_000);
    expectExactlyOnceInOrder(events, 20);
    const first429 = scenario.site.requests.find((r) => r.status === 429);
    // The retry is recorded once the collector has answered it, a moment after its events are stored.
    const after429 = () => scenario?.site.requests.find((r) => first429 && r.at > first429.at);
    await waitFor(() => after429() !== undefined, 10_000);
    const next = after429();
    expect(first429).toBeDefined();
    expect((next?.at ?? 0) - (first429?.at ?? 0)).toBeGreaterThanOrEqual(1900);
  });

  test('a closed leader tab hands over: the other tab sends what was queued', async () => {
    scenario = await startScenario({ '/': scriptTagPage() });
    const leader = await scenario.browser.newPage();
    await leader.goto(`${scenario.site.url}/`);
    await leader.evaluate(() => window.kimlik.ready());
    const follower = await scenario.browser.newPage();
    await follower.goto(`${scenario.site.url}/`);
    await follower.evaluate(() => window.kimlik.ready());
    await goOffline(scenario, [leader, follower]);
    await follower.evaluate(() => {
      for (let n = 0; n < 5; n++) window.kimlik.track('Follower', { n });
    });
    expect(await waitFor(async () => (await queuedInBrowser(follower)) === 5, 15_000)).toBe(true);
    await leader.close();
    await goOnline(scenario);
    expectExactlyOnceInOrder(await scenario.waitStored(5), 5);
  });

  test('an oversized event is dropped with a console warning and does not block the queue', async () => {
    scenario = await startScenario({ '/': scriptTagPage() });
    const page = await scenario.browser.newPage();
    const warnings: string[] = [];
    page.on('console', (m) => warnings.push(m.text()));
    await page.goto(`${scenario.site.url}/`);
    await page.evaluate(() => {
      window.kimlik.track('Small', { n: 0 });
      window.kimlik.track('Huge', { blob: 'x'.repeat(40 * 1024) });
      window.kimlik.track('Small', { n: 1 });
    });
    expectExactlyOnceInOrder(await scenario.waitStored(2), 2);
    expect(warnings.some((w) => w.includes('KIMLIK_DELIVERY_INVALID_EVENT'))).toBe(true);
  });

  test('bounded queue: past maxQueueEvents the oldest are dropped and reported, never thrown', async () => {
    scenario = await startScenario({});
    const { page, warnings } = await offlinePageWithBound(scenario, 5);
    await page.evaluate(() => {
      for (let n = 0; n < 8; n++) window.kimlik.track('Bounded', { n });
    });
    expect(await waitFor(async () => (await queuedInBrowser(page)) === 5, 15_000)).toBe(true);
    await goOnline(scenario);
    const events = await scenario.waitStored(5);
    // Every queued event has been acknowledged: a dropped one sent anyway would be stored by now.
    expect(await waitFor(async () => (await queuedInBrowser(page)) === 0, 15_000)).toBe(true);
    expect((await scenario.stored()).map((e) => (e.properties as { n: number }).n)).toEqual([3, 4, 5, 6, 7]);
    expect(events.length).toBe(5);
    expect(warnings.some((w) => w.includes('KIMLIK_DELIVERY_QUEUE_FULL'))).toBe(true);
  });

  test('past the queue bound, a loop of calls makes one warning per burst, not one per dropped event', async () => {
    scenario = await startScenario({});
    const { page, warnings } = await offlinePageWithBound(scenario, 5);
    await page.evaluate(() => {
      for (let n = 0; n < 2000; n++) window.kimlik.track('Loop', { n });
    });
    // The burst's count comes a second after its first warning.
    expect(await waitFor(() => warnings.some((w) => /queue full: \d+ more events/.test(w)), 10_000)).toBe(true);
    const full = warnings.filter((w) => w.includes('KIMLIK_DELIVERY_QUEUE_FULL'));
    expect(full.length).toBeGreaterThanOrEqual(1);
    expect(full.length).toBeLessThanOrEqual(2);
    expect(full.at(-1)).toMatch(/queue full: 1994 more events/);
    await goOnline(scenario);
  });

  test("IndexedDB over its quota: one storage warning per burst, naming the browser's error", async () => {
    scenario = await startScenario({ '/': scriptTagPage() });
    const page = await scenario.browser.newPage();
    const warnings: string[] = [];
    page.on('console', (m) => warnings.push(m.text()));
    const cdp = await scenario.browser.context.newCDPSession(page);
    await cdp.send('Storage.overrideQuotaForOrigin', { origin: scenario.site.url, quotaSize: 20_000 });
    await page.goto(`${scenario.site.url}/`);
    await page.evaluate(() => window.kimlik.ready());
    await goOffline(scenario, [page]);
    // Calls in separate tasks: each write batch of one event fails on its own.
    await page.evaluate(async () => {
      for (let n = 0; n < 200; n++) {
        window.kimlik.track('Over quota', { n, pad: 'x'.repeat(300) });
        await new Promise((r) => setTimeout(r));
      }
    });
    expect(await waitFor(() => warnings.some((w) => /storage failed: \d+ more events/.test(w)), 10_000)).toBe(true);
    const storage = warnings.filter((w) => w.includes('KIMLIK_DELIVERY_STORAGE'));
    // One per failed event (183 for 200), each saying "storage failed: " and no more.
    expect(storage.length).toBeLessThanOrEqual(4);
    expect(storage[0]).toContain('storage failed: QuotaExceededError');
    await goOnline(scenario);
  });

  test('without Web Locks, a localStorage lease elects one sender: two tabs, 20 stored once', async () => {
    scenario = await startScenario({ '/': scriptTagPage() });
    await scenario.browser.context.addInitScript(() =>
      Object.defineProperty(Navigator.prototype, 'locks', { get: () => undefined }),
    );
    const a = await scenario.browser.newPage();
    await a.goto(`${scenario.site.url}/`);
    await a.evaluate(() => window.kimlik.ready());
    const b = await scenario.browser.newPage();
    await b.goto(`${scenario.site.url}/`);
    await b.evaluate(() => window.kimlik.ready());
    // The lease is per source (write key + endpoint): `kimlik-queue <source id>`.
    const lease = await a.evaluate(() => {
      const key = Object.keys(localStorage).find((k) => k.startsWith('kimlik-queue '));
      return key && localStorage.getItem(key);
    });
    expect(lease).toMatch(/\|\d+$/);
    await twoTabsOfflineThenOnline(scenario, a, b, 'Lease');
  });

  test('without Web Locks, the next page of a tab sends at once: the page that left gave up its lease', async () => {
    // flushTimeoutMs is how long a tab that does not send waits for a sending tab's answer: shorter
    // than what a lease left behind would still hold (at least 2 of its 3 s).
    scenario = await startScenario({ '/': scriptTagPage({ 'flush-interval-ms': 100, 'flush-timeout-ms': 1500 }) });
    await scenario.browser.context.addInitScript(() =>
      Object.defineProperty(Navigator.prototype, 'locks', { get: () => undefined }),
    );
    const page = await scenario.browser.newPage();
    const posted = () => (scenario as Scenario).site.requests.reduce((n, r) => n + Math.max(r.events, 0), 0);
    for (const n of [0, 1, 2]) {
      await (n ? page.reload() : page.goto(`${scenario.site.url}/`));
      await page.evaluate((n) => window.kimlik.track('Load', { n }), n);
      // Resolves once acknowledged when this page sends; after flushTimeoutMs, unsent, when it waits.
      await page.evaluate(() => window.kimlik.flush());
      expect(posted(), `load ${n}`).toBe(n + 1);
    }
  });

  test('without Web Locks, a page restored from the back/forward cache, having let go of its lease, sends again', async () => {
    const html = scriptTagPage({ 'flush-interval-ms': 100, 'flush-timeout-ms': 1500 }).replace(
      '</head>',
      '<script>addEventListener("pageshow", (e) => (window.shows ??= []).push(e.persisted))</script></head>',
    );
    scenario = await startScenario({}, [], { bfcache: true });
    scenario.site.page('/list', html, true);
    scenario.site.page('/product', html, true);
    await scenario.browser.context.addInitScript(() =>
      Object.defineProperty(Navigator.prototype, 'locks', { get: () => undefined }),
    );
    const tab = await scenario.browser.newPage();
    const stored = async () => (await (scenario as Scenario).stored()).map((e) => e.event);
    const send = (event: string) =>
      tab.evaluate(async (event) => {
        window.kimlik.track(event);
        await window.kimlik.flush();
      }, event);
    await tab.goto(`${scenario.site.url}/list`);
    await send('List');
    // The list, cached, lets go of its lease; the product page sends nothing (a message on the
    // BroadcastChannel, such as a sending tab's settled messageIds, evicts a cached page).
    await tab.goto(`${scenario.site.url}/product`);
    await tab.evaluate(() => window.kimlik.ready());
    await tab.goBack({ waitUntil: 'commit' });
    await tab.waitForFunction(() => (window as unknown as { shows?: boolean[] }).shows?.length === 2);
    expect(await tab.evaluate(() => (window as unknown as { shows: boolean[] }).shows)).toEqual([false, true]);
    await send('Back on the list');
    expect(await stored()).toEqual(['List', 'Back on the list']);
  });

  test('IndexedDB quota errors: events stay in memory and are still delivered, reported once, no page error', async () => {
    scenario = await startScenario({ '/': scriptTagPage() });
    await scenario.browser.context.addInitScript(() => {
      IDBObjectStore.prototype.put = () => {
        throw new DOMException('The quota has been exceeded.', 'QuotaExceededError');
      };
    });
    const page = await scenario.browser.newPage();
    const warnings: string[] = [];
    page.on('console', (m) => warnings.push(m.text()));
    await page.goto(`${scenario.site.url}/`);
    await page.evaluate(() => {
      for (let n = 0; n < 10; n++) window.kimlik.track('Quota', { n });
    });
    expectExactlyOnceInOrder(await scenario.waitStored(10), 10);
    // One report for the failed write of the ten, not one per event (a loop of calls past the
    // quota flooded the console).
    expect(warnings.filter((w) => w.includes('KIMLIK_DELIVERY_STORAGE'))).toHaveLength(1);
  });

  test('events the collector rejects are dropped alone: no poison pill', async () => {
    scenario = await startScenario({ '/': scriptTagPage() });
    const page = await scenario.browser.newPage();
    const warnings: string[] = [];
    page.on('console', (m) => warnings.push(m.text()));
    await page.goto(`${scenario.site.url}/`);
    await page.evaluate(() => {
      window.kimlik.track('Fine', { n: 0 });
      // A key the collector refuses (prototype pollution guard), in the middle of the batch.
      window.kimlik.track('Refused', JSON.parse('{"__proto__": {"admin": true}}'));
      window.kimlik.track('Fine', { n: 1 });
    });
    expectExactlyOnceInOrder(await scenario.waitStored(2), 2);
    // The batch is settled (nothing left to retry): the refused event was not sent again.
    expect(await waitFor(async () => (await queuedInBrowser(page)) === 0, 15_000)).toBe(true);
    expect((await scenario.stored()).length).toBe(2);
    expect(warnings.some((w) => w.includes('KIMLIK_DELIVERY_REJECTED'))).toBe(true);
  });
});
