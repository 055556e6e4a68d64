import { describe, expect, test } from 'vitest';
import { hasChromium, waitFor } from '../helpers/browser.js';
import {
  closeScenarioAfterEach,
  readyTab,
  type Scenario,
  scriptTagPage,
  startScenario,
} from '../helpers/browser-scenario.js';

// Several open tabs of one site: identity changes made in one tab hold in all of them, and tabs of
// different sources (write key + endpoint) keep their events apart.

let scenario: Scenario | undefined;
closeScenarioAfterEach(() => scenario);

describe.skipIf(!hasChromium)('browser SDK across tabs (needs /usr/bin/chromium)', { timeout: 120_000 }, () => {
  test('a logout in one tab holds in the others: their next events and writes do not bring the old user back', async () => {
    scenario = await startScenario({ '/': scriptTagPage({ 'flush-interval-ms': 100 }) });
    const a = await scenario.browser.newPage();
    await a.goto(`${scenario.site.url}/`);
    await a.evaluate(() => window.kimlik.identify('u-alice', { email: 'alice@example.com' }));
    const b = await scenario.browser.newPage();
    await b.goto(`${scenario.site.url}/`);
    const before = await b.evaluate(() => window.kimlik.user());
    expect(before.userId).toBe('u-alice');

    const loggedOut = await a.evaluate(() => {
      window.kimlik.reset();
      return window.kimlik.user();
    });
    // The other tab takes the change from the storage event, before its next event.
    const seen = await waitFor(
      async () => (await b.evaluate(() => window.kimlik.user().anonymousId)) === loggedOut.anonymousId,
      5000,
    );
    expect(seen).toBe(true);
    await b.evaluate(() => {
      window.kimlik.track('Clicked in tab B', { n: 1 });
      window.kimlik.identify(null, { theme: 'dark' });
    });
    await a.reload();
    expect(await a.evaluate(() => window.kimlik.user())).toEqual({
      anonymousId: loggedOut.anonymousId,
      userId: null,
      traits: { theme: 'dark' },
    });
    const events = await scenario.waitStored(3);
    const click = events.find((e) => e.event === 'Clicked in tab B');
    expect(click?.userId).toBeUndefined();
    expect(click?.anonymousId).toBe(loggedOut.anonymousId);
  });

  test("the site's own localStorage.clear() in one tab keeps the user: another open tab writes the identity back", async () => {
    scenario = await startScenario({ '/': scriptTagPage({ 'flush-interval-ms': 100 }) });
    const a = await readyTab(scenario);
    await a.evaluate(() => window.kimlik.identify('user-42', { email: 'u42@example.com' }));
    const b = await readyTab(scenario);
    const before = await b.evaluate(() => window.kimlik.user());
    expect(before.userId).toBe('user-42');
    // An SPA flushing its cache after a version bump: no logout, no reset().
    await a.evaluate(() => localStorage.clear());
    expect(await waitFor(() => a.evaluate(() => localStorage.getItem('kimlik_user') !== null), 5000)).toBe(true);
    // Tab B reloaded the identity from the emptied storage: its events and the next load had no user.
    expect(await b.evaluate(() => window.kimlik.user())).toEqual(before);
    await a.reload();
    expect(await a.evaluate(() => window.kimlik.user())).toEqual(before);
    await b.evaluate(() => window.kimlik.track('After the clear', { n: 1 }));
    const [event] = await scenario.waitStored(2).then((events) => events.filter((e) => e.event === 'After the clear'));
    expect(event?.userId).toBe('user-42');
  });

  test('flush() in a tab that does not send resolves once the sending tab has delivered its events', async () => {
    // Batches wait a minute unless flushed: only flush() can make these leave now.
    scenario = await startScenario({ '/': scriptTagPage({ 'flush-interval-ms': 60_000 }) });
    const leader = await scenario.browser.newPage();
    await leader.goto(`${scenario.site.url}/`);
    await leader.evaluate(() => window.kimlik.ready());
    const follower = await scenario.browser.newPage();
    await follower.goto(`${scenario.site.url}/`);
    await follower.evaluate(async () => {
      await window.kimlik.ready();
      for (let n = 0; n < 5; n++) window.kimlik.track('Flushed from a follower', { n });
      await window.kimlik.flush();
    });
    // Read right after flush() resolved, without waiting: the events are stored already.
    const stored = (await scenario.stored()).filter((e) => e.event === 'Flushed from a follower');
    expect(stored.length).toBe(5);
  });

  test('a tab that does not send, with IndexedDB writes failing (quota), keeps in memory none the sending tab has acknowledged', async () => {
    scenario = await startScenario({ '/': scriptTagPage({ 'flush-interval-ms': 100, 'max-queue-events': 10 }) });
    await scenario.browser.context.addInitScript(() => {
      IDBObjectStore.prototype.put = () => {
        throw new DOMException('The quota has been exceeded.', 'QuotaExceededError');
      };
    });
    const leader = await readyTab(scenario);
    const follower = await readyTab(scenario);
    // Three failed write batches of 10 events, each sent by the leader (from memory) before the next.
    for (let batch = 0; batch < 3; batch++) {
      await follower.evaluate((batch) => {
        for (let n = 0; n < 10; n++) window.kimlik.track('Unsaved', { n: batch * 10 + n });
      }, batch);
      expect((await scenario.waitStored(10 * (batch + 1))).length).toBe(10 * (batch + 1));
      // Until the leader has the answer, the batch counts against its bound of 10.
      await leader.evaluate(() => window.kimlik.flush());
    }
    // What the follower holds as unsaved is what its page exit stashes: none, as all 30 are
    // acknowledged (it kept every event for as long as the tab lived, then the newest
    // maxQueueEvents; the bound is checked in bytes below).
    const stashed = await follower.evaluate(() => {
      dispatchEvent(new PageTransitionEvent('pagehide'));
      const key = Object.keys(localStorage).find((k) => k.includes('_stash_'));
      return key ? (JSON.parse(localStorage.getItem(key) ?? '[]') as [string, string][]) : [];
    });
    expect(stashed).toEqual([]);
  });

  test('a tab that does not send forgets its events once the sending tab has them acknowledged: a tab switch beacons none', async () => {
    scenario = await startScenario({ '/': scriptTagPage({ 'flush-interval-ms': 100 }) });
    await readyTab(scenario);
    const follower = await readyTab(scenario);
    const beaconed = await follower.evaluate(async () => {
      for (let n = 0; n < 150; n++) window.kimlik.track('Acknowledged', { n, pad: 'x'.repeat(200) });
      await window.kimlik.flush();
      const sent: number[] = [];
      navigator.sendBeacon = (_url, body) => sent.push((body as Blob).size) > 0;
      // Headless tabs never hide: the switch away is simulated.
      Object.defineProperty(document, 'visibilityState', { value: 'hidden', configurable: true });
      document.dispatchEvent(new Event('visibilitychange', { bubbles: true }));
      return sent;
    });
    expect((await scenario.stored()).length).toBe(150);
    // Each switch away sent the 150 stored events again (about 60 KB) for as long as the tab lived.
    expect(beaconed).toEqual([]);
  });

  test('a tab that does not send keeps at most maxQueueBytes of its events for page exit', async () => {
    scenario = await startScenario({ '/': scriptTagPage({ 'flush-interval-ms': 100, 'max-queue-bytes': 10_000 }) });
    // This sending tab hears no other tab (no BroadcastChannel): the follower's events stay unsent.
    const leader = await scenario.browser.newPage();
    await leader.addInitScript(() => {
      (window as { BroadcastChannel?: unknown }).BroadcastChannel = undefined;
    });
    await leader.goto(`${scenario.site.url}/`);
    await leader.evaluate(() => window.kimlik.ready());
    const follower = await readyTab(scenario);
    const beaconed = await follower.evaluate(async () => {
      for (let n = 0; n < 30; n++) window.kimlik.track('Unsent', { n, pad: 'x'.repeat(1000) });
      const sent: Blob[] = [];
      navigator.sendBeacon = (_url, body) => sent.push(body as Blob) > 0;
      dispatchEvent(new PageTransitionEvent('pagehide'));
      return Promise.all(sent.map((b) => b.text()));
    });
    const kept = beaconed.flatMap((body) => (JSON.parse(body) as { batch: { properties: { n: number } }[] }).batch);
    const ns = kept.map((e) => e.properties.n).sort((a, b) => a - b);
    // Bounded only by maxQueueEvents (10 000), the tab kept all 30 (about 45 KB): now the newest
    // that fit in 10 000 B.
    expect(ns.length).toBeGreaterThan(0);
    expect(ns).toEqual(Array.from({ length: ns.length }, (_, i) => 30 - ns.length + i));
    expect(kept.reduce((bytes, e) => bytes + Buffer.byteLength(JSON.stringify(e)), 0)).toBeLessThanOrEqual(10_000);
  });

  test('an event over maxEventBytes made in a tab that does not send is dropped there, with the warning there', async () => {
    scenario = await startScenario({ '/': scriptTagPage({ 'flush-interval-ms': 100 }) });
    const leader = await readyTab(scenario);
    const follower = await readyTab(scenario);
    const warnings: string[] = [];
    follower.on('console', (m) => warnings.push(m.text()));
    await follower.evaluate(() => {
      window.kimlik.track('Too big', { pad: 'x'.repeat(40_000) });
      window.kimlik.track('Fine');
    });
    await scenario.waitStored(1);
    expect(warnings.some((w) => w.includes('KIMLIK_DELIVERY_INVALID_EVENT'))).toBe(true);
    // Not in the shared queue either: the tab that sends next does not load and send it.
    await leader.close();
    await follower.evaluate(async () => {
      window.kimlik.track('After the handover');
      await window.kimlik.flush();
    });
    expect((await scenario.waitStored(2)).map((e) => e.event)).toEqual(['Fine', 'After the handover']);
    expect(warnings.filter((w) => w.includes('KIMLIK_DELIVERY_REJECTED'))).toEqual([]);
  });

  test('tabs with different write keys on one site: each event is sent with its own source’s key', async () => {
    scenario = await startScenario({});
    const { url, adminKey, writeKey } = scenario.collector;
    const res = await fetch(`${url}/v1/sources`, {
      method: 'POST',
      headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'app' }),
    });
    const app = (await res.json()) as { id: number; writeKey: string };
    scenario.site.page('/blog', scriptTagPage({ 'flush-interval-ms': 100 }, writeKey));
    scenario.site.page('/app', scriptTagPage({ 'flush-interval-ms': 100 }, app.writeKey));
    const blog = await scenario.browser.newPage();
    await blog.goto(`${scenario.site.url}/blog`);
    await blog.evaluate(() => window.kimlik.ready());
    const appTab = await scenario.browser.newPage();
    await appTab.goto(`${scenario.site.url}/app`);
    await appTab.evaluate(() => window.kimlik.ready());
    await appTab.evaluate(() => window.kimlik.track('Signed Up (app)'));
    await blog.evaluate(() => window.kimlik.track('Read (blog)'));
    await scenario.waitStored(2);
    const listed = await fetch(`${url}/v1/events?limit=10`, { headers: { authorization: `Bearer ${adminKey}` } });
    const { events } = (await listed.json()) as { events: { sourceId: number; event: { event: string } }[] };
    const bySource = Object.fromEntries(events.map((e) => [e.event.event, e.sourceId]));
    expect(bySource['Signed Up (app)']).toBe(app.id);
    expect(bySource['Read (blog)']).not.toBe(app.id);
    // One anonymous ID for the site, whichever source.
    const aids = await Promise.all([blog, appTab].map((p) => p.evaluate(() => window.kimlik.user().anonymousId)));
    expect(aids[0]).toBe(aids[1]);
  });
});
