import type { Page } from 'playwright-core';
import { afterEach, expect } from 'vitest';
import { type LaunchOptions, launchBrowser, type TestBrowser, waitFor } from './browser.js';
import { startTestCollector, type TestCollector } from './collector.js';
import { startTestSite, type TestSite } from './test-site.js';

export interface Scenario {
  collector: TestCollector;
  site: TestSite;
  browser: TestBrowser;
  /** Stored events whose properties (or traits) carry this run's `n`, i.e. the test's own events. */
  stored(): Promise<Record<string, unknown>[]>;
  /** Waits until `count` events are stored (bounded), then returns them. */
  waitStored(count: number, timeoutMs?: number): Promise<Record<string, unknown>[]>;
  close(): Promise<void>;
}

/**
 * For a suite that starts a scenario per test: after each test the page must have thrown nothing,
 * and the test's scenario is closed (once, even when that check fails).
 */
export function closeScenarioAfterEach(current: () => Scenario | undefined): void {
  const closed = new WeakSet<Scenario>();
  afterEach(async () => {
    const s = current();
    if (!s || closed.has(s)) return;
    closed.add(s);
    try {
      expect(s.browser.pageErrors).toEqual([]);
    } finally {
      await s.close();
    }
  });
}

/** A page that loads the bundle by script tag alone, with `data-*` options. */
export function scriptTagPage(attrs: Record<string, string | number | boolean> = {}, writeKey = 'wk_test_write_key') {
  const data = Object.entries({ 'auto-page': false, ...attrs })
    .map(([k, v]) => ` data-${k}="${v}"`)
    .join('');
  return `<!doctype html><html><head><meta charset="utf-8"><title>Test page</title>
<script src="/kimlik.js" data-write-key="${writeKey}"${data}></script></head><body><h1>test</h1></body></html>`;
}

export async function startScenario(
  pages: Record<string, string>,
  browserArgs: string[] = [],
  launch?: LaunchOptions,
): Promise<Scenario> {
  const collector = await startTestCollector();
  const site = await startTestSite(collector.url);
  for (const [path, html] of Object.entries(pages)) site.page(path, html);
  const browser = await launchBrowser(browserArgs, launch);
  const stored = async () => await collector.storedEvents();
  return {
    collector,
    site,
    browser,
    stored,
    async waitStored(count, timeoutMs = 45_000) {
      let events: Record<string, unknown>[] = [];
      await waitFor(async () => {
        events = await stored();
        return events.length >= count;
      }, timeoutMs);
      return events;
    },
    async close() {
      await browser.close();
      await site.close();
      await collector.close();
    },
  };
}

/** Chromium flags that resolve every `*.kimlik.test` host to the test site (cookie-domain tests). */
export const SUBDOMAINS = ['--host-resolver-rules=MAP *.kimlik.test 127.0.0.1'];

/** A new tab on `path` of subdomain `name`.kimlik.test of the site (started with `SUBDOMAINS`). */
export async function subdomainTab(s: Scenario, name: string, path = '/'): Promise<Page> {
  const page = await s.browser.newPage();
  await page.goto(`http://${name}.kimlik.test:${new URL(s.site.url).port}${path}`);
  return page;
}

/** A new tab on `path` of the site, once its SDK is ready (the first tab opened sends). */
export async function readyTab(s: Scenario, path = '/'): Promise<Page> {
  const page = await s.browser.newPage();
  await page.goto(`${s.site.url}${path}`);
  await page.evaluate(() => window.kimlik.ready());
  return page;
}

/**
 * Emulates losing the network and waits until every page sees it: Chromium applies the emulation
 * to a renderer asynchronously, so a page busy right after setOffline() can still be online (a
 * loaded CI machine once sent a whole batch in that window, and once a page reloaded offline did).
 * Requests to the collector also fail as they would off the network: the browser aborts them, and
 * the site's /v1 proxy drops the connection of any that gets past that (one did in CI, even with
 * the route in place), so such a window cannot store anything; `goOnline` undoes all three.
 */
export async function goOffline(s: Scenario, pages: Page[]): Promise<void> {
  s.site.setDown(true);
  await s.browser.context.route(collectorRoutes(s), (route) => route.abort('internetdisconnected'));
  await s.browser.context.setOffline(true);
  await Promise.all(pages.map((p) => p.waitForFunction(() => !navigator.onLine, undefined, { timeout: 10_000 })));
}

export async function goOnline(s: Scenario): Promise<void> {
  s.site.setDown(false);
  await s.browser.context.unroute(collectorRoutes(s));
  await s.browser.context.setOffline(false);
}

/** The pages send to their own origin, whose /v1 proxies to the collector. */
const collectorRoutes = (s: Scenario) => `${s.site.url}/v1/**`;

/** Events in the page's IndexedDB queue (shared by all tabs of the origin). */
export function queuedInBrowser(page: Page, prefix = 'kimlik'): Promise<number> {
  return page.evaluate(
    (name) =>
      new Promise<number>((resolve, reject) => {
        const open = indexedDB.open(name);
        open.onerror = () => reject(open.error);
        open.onsuccess = () => {
          const db = open.result;
          if (!db.objectStoreNames.contains('events')) {
            db.close();
            resolve(0);
            return;
          }
          const req = db.transaction('events').objectStore('events').count();
          req.onsuccess = () => {
            db.close();
            resolve(req.result);
          };
          req.onerror = () => reject(req.error);
        };
      }),
    `${prefix}-queue`,
  );
}

/** Values of `properties.n` in stored order, per anonymousId, after sorting by the device's clock. */
export function nByDevice(events: Record<string, unknown>[]): Map<string, number[]> {
  const out = new Map<string, number[]>();
  const sorted = [...events].sort((a, b) =>
    String(a.originalTimestamp ?? a.timestamp).localeCompare(String(b.originalTimestamp ?? b.timestamp)),
  );
  for (const e of sorted) {
    const n = (e.properties as { n?: number } | undefined)?.n ?? (e.traits as { n?: number } | undefined)?.n;
    if (typeof n !== 'number') continue;
    const key = String(e.anonymousId);
    out.set(key, [...(out.get(key) ?? []), n]);
  }
  return out;
}
