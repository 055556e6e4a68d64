import { describe, expect, test } from 'vitest';
import type { Api } from '../../sdk-web/src/api.js';
import { hasChromium, waitFor } from '../helpers/browser.js';
import {
  closeScenarioAfterEach,
  goOffline,
  goOnline,
  queuedInBrowser,
  type Scenario,
  scriptTagPage,
  startScenario,
} from '../helpers/browser-scenario.js';

declare global {
  interface Window {
    kimlik: Api;
    /** Read-write transactions opened on the SDK's queue database, counted by the init script. */
    queueWrites: number;
  }
}

// track() must not block the page: a loop of calls is written to IndexedDB in a few transactions,
// not one per event (10 000 calls made a 1.4 s long task when each event had its own).

let scenario: Scenario | undefined;
closeScenarioAfterEach(() => scenario);

describe.skipIf(!hasChromium)('browser SDK on the main thread (needs /usr/bin/chromium)', { timeout: 120_000 }, () => {
  test('1000 tracks in one task are persisted by a few IndexedDB transactions and all stored once', async () => {
    const count = 1000;
    scenario = await startScenario({ '/': scriptTagPage() });
    await scenario.browser.context.addInitScript(() => {
      window.queueWrites = 0;
      const open = IDBDatabase.prototype.transaction;
      IDBDatabase.prototype.transaction = function (this: IDBDatabase, ...args: Parameters<typeof open>) {
        if (this.name === 'kimlik-queue' && args[1] === 'readwrite') window.queueWrites++;
        return open.apply(this, args);
      };
    });
    const page = await scenario.browser.newPage();
    await page.goto(`${scenario.site.url}/`);
    await page.evaluate(() => window.kimlik.ready());
    // Offline, so no acknowledgement removes events meanwhile: every write counted is a put.
    await goOffline(scenario, [page]);
    const before = await page.evaluate(() => window.queueWrites);
    await page.evaluate((n) => {
      for (let i = 0; i < n; i++) window.kimlik.track('Loop', { n: i });
    }, count);
    expect(await waitFor(async () => (await queuedInBrowser(page)) === count, 15_000)).toBe(true);
    const writes = (await page.evaluate(() => window.queueWrites)) - before;
    expect(writes).toBeGreaterThan(0);
    expect(writes).toBeLessThanOrEqual(3);

    await goOnline(scenario);
    const events = await scenario.waitStored(count);
    // Once the queue is empty every send was acknowledged: no late duplicate can still arrive.
    expect(await waitFor(async () => (await queuedInBrowser(page)) === 0, 15_000)).toBe(true);
    const stored = await scenario.stored();
    const ns = stored.map((e) => (e.properties as { n: number }).n).sort((a, b) => a - b);
    expect(ns).toEqual(Array.from({ length: count }, (_, i) => i));
    expect(new Set(events.map((e) => e.messageId)).size).toBe(count);
    expect(await waitFor(async () => (await queuedInBrowser(page)) === 0, 15_000)).toBe(true);
  });
});
