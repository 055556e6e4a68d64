import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import type { Api } from '../../sdk-web/src/api.js';
import { hasChromium, waitFor } from '../helpers/browser.js';
import {
  closeScenarioAfterEach,
  queuedInBrowser,
  type Scenario,
  scriptTagPage,
  startScenario,
} from '../helpers/browser-scenario.js';

const SNIPPET = readFileSync(new URL('../../sdk-web/dist/snippet.min.js', import.meta.url), 'utf8');

let scenario: Scenario | undefined;
closeScenarioAfterEach(() => scenario);

const names = (events: Record<string, unknown>[]) => events.map((e) => e.event ?? e.type);

describe.skipIf(!hasChromium)('browser SDK in the page (needs /usr/bin/chromium)', { timeout: 120_000 }, () => {
  test('snippet: calls made before the bundle loads are replayed in order', async () => {
    scenario = await startScenario({});
    const snippet = SNIPPET.replace('__KIMLIK_SRC__', '/kimlik.js?delay').replace(
      '__KIMLIK_WRITE_KEY__',
      scenario.collector.writeKey,
    );
    scenario.site.page(
      '/',
      `<!doctype html><title>snippet</title><script>${snippet}
kimlik.track('first', { n: 0 }); kimlik.identify('u-1', { n: 1 }); kimlik.track('second', { n: 2 });
window.stubAnswered = kimlik.user() === kimlik && typeof kimlik.flush === 'function';
window.early = kimlik;
</script>`,
    );
    // The bundle arrives late, as on a slow network.
    const bundle = readFileSync(new URL('../../sdk-web/dist/kimlik.min.js', import.meta.url));
    await scenario.browser.context.route(`${scenario.site.url}/kimlik.js?delay`, async (route) => {
      await new Promise((r) => setTimeout(r, 500));
      await route.fulfill({ contentType: 'application/javascript', body: bundle });
    });
    const page = await scenario.browser.newPage();
    await page.goto(`${scenario.site.url}/`);
    expect(await page.evaluate(() => (window as unknown as { stubAnswered: boolean }).stubAnswered)).toBe(true);
    await page.waitForFunction(() => !Array.isArray(window.kimlik));
    await page.evaluate(() => window.kimlik.track('third', { n: 3 }));
    // A reference to the stub taken before the bundle loaded reaches the real SDK too.
    await page.evaluate(() => (window as unknown as { early: Api }).early.track('fourth', { n: 4 }));
    const events = await scenario.waitStored(6);
    // The recorded calls in order, then the load's automatic page view (made as the bundle starts,
    // after them, so the identify applies to it), then the calls made after loading.
    expect(names(events)).toEqual(['first', 'identify', 'second', 'page', 'third', 'fourth']);
    expect(events[2]?.userId).toBe('u-1');
    expect(events[3]?.userId).toBe('u-1');
  });

  test('a blocked bundle leaves a stub that answers every method without throwing', async () => {
    scenario = await startScenario({});
    const snippet = SNIPPET.replace('__KIMLIK_SRC__', '/blocked.js').replace('__KIMLIK_WRITE_KEY__', 'wk');
    scenario.site.page('/', `<!doctype html><title>blocked</title><script>${snippet}</script>`);
    const page = await scenario.browser.newPage();
    await page.goto(`${scenario.site.url}/`);
    const ok = await page.evaluate(async () => {
      const k = window.kimlik;
      k.track('x');
      k.identify('u', { email: 'a@b.c' });
      k.page();
      k.group('g');
      k.alias('v');
      k.reset();
      k.consent('granted');
      k.use((e) => e);
      k.user();
      await k.flush();
      await k.ready();
      return true;
    });
    expect(ok).toBe(true);
  });

  test('identify with email, then reset(): later events carry a new anonymous ID and no user', async () => {
    scenario = await startScenario({ '/': scriptTagPage() });
    const page = await scenario.browser.newPage();
    await page.goto(`${scenario.site.url}/`);
    const before = await page.evaluate(() => {
      window.kimlik.identify('user-42', { email: 'grace@example.com', plan: 'pro' });
      window.kimlik.track('Logged in');
      return window.kimlik.user();
    });
    expect(before.userId).toBe('user-42');
    await page.reload();
    const persisted = await page.evaluate(() => window.kimlik.user());
    expect(persisted).toEqual(before);
    const after = await page.evaluate(() => {
      window.kimlik.reset();
      window.kimlik.track('Logged out');
      return window.kimlik.user();
    });
    expect(after.userId).toBeNull();
    expect(after.anonymousId).not.toBe(before.anonymousId);
    const events = await scenario.waitStored(3);
    const [identify, login, logout] = events;
    expect(identify?.traits).toMatchObject({ email: 'grace@example.com' });
    expect(login).toMatchObject({ userId: 'user-42', anonymousId: before.anonymousId });
    expect(logout?.anonymousId).toBe(after.anonymousId);
    expect(logout?.userId).toBeUndefined();
    // The anonymous ID lives in a first-party cookie and is mirrored in localStorage.
    const cookies = await scenario.browser.context.cookies();
    expect(cookies.find((c) => c.name === 'kimlik_aid')?.value).toBe(after.anonymousId);
  });

  test('consent: pending sends nothing, granted sends all, denied drops the queue', async () => {
    scenario = await startScenario({ '/': scriptTagPage({ consent: 'pending', 'flush-interval-ms': 200 }) });
    const page = await scenario.browser.newPage();
    await page.goto(`${scenario.site.url}/`);
    await page.evaluate(() => {
      for (let n = 0; n < 5; n++) window.kimlik.track('Pending', { n });
    });
    expect(await waitFor(async () => (await queuedInBrowser(page)) === 5, 15_000)).toBe(true);
    // Absence can only be waited for: five flush intervals (200 ms) in which a send would have happened.
    await new Promise((r) => setTimeout(r, 1000));
    expect(scenario.site.requests.filter((r) => r.events > 0)).toEqual([]);
    await page.evaluate(() => window.kimlik.consent('granted'));
    expect((await scenario.waitStored(5)).length).toBe(5);

    await page.evaluate(() => {
      window.kimlik.consent('pending');
      for (let n = 5; n < 10; n++) window.kimlik.track('Pending again', { n });
    });
    expect(await waitFor(async () => (await queuedInBrowser(page)) === 5, 15_000)).toBe(true);
    const user = await page.evaluate(() => {
      window.kimlik.consent('denied');
      window.kimlik.track('Denied');
      return window.kimlik.user();
    });
    expect(await waitFor(async () => (await queuedInBrowser(page)) === 0, 15_000)).toBe(true);
    const stored = await page.evaluate(() => ({ ls: localStorage.getItem('kimlik_aid'), cookie: document.cookie }));
    expect(stored.ls).toBeNull();
    // No ID on the device: the cookie only records the refusal for the site's other pages.
    expect(stored.cookie).toBe('kimlik_aid=denied');
    expect(stored.cookie).not.toContain(user.anonymousId);
    expect(user.userId).toBeNull();
    // Granted again, a new event is sent; the dropped ones, queued before it, would have gone first.
    await page.evaluate(() => {
      window.kimlik.consent('granted');
      window.kimlik.track('Sentinel');
    });
    const after = await scenario.waitStored(6);
    expect(after.map((e) => e.event)).toEqual(['Pending', 'Pending', 'Pending', 'Pending', 'Pending', 'Sentinel']);
  });

  test('storage blocked: localStorage and IndexedDB throw, events are sent from memory, no page error', async () => {
    scenario = await startScenario({ '/': scriptTagPage({ 'auto-page': true }) });
    await scenario.browser.context.addInitScript(() => {
      const blocked = () => {
        throw new DOMException('The operation is insecure.', 'SecurityError');
      };
      Object.defineProperty(window, 'localStorage', { get: blocked });
      Object.defineProperty(window, 'indexedDB', { get: blocked });
    });
    const page = await scenario.browser.newPage();
    const warnings: string[] = [];
    page.on('console', (m) => warnings.push(m.text()));
    await page.goto(`${scenario.site.url}/`);
    await page.evaluate(async () => {
      await window.kimlik.ready();
      window.kimlik.identify('u-9', { n: 0 });
      for (let n = 1; n < 10; n++) window.kimlik.track('Memory', { n });
    });
    const events = await scenario.waitStored(11);
    expect(events.length).toBe(11);
    expect(events[0]?.type).toBe('page');
    expect(events.at(-1)?.userId).toBe('u-9');
    expect(warnings.some((w) => w.includes('KIMLIK_WEB_STORAGE_UNAVAILABLE'))).toBe(true);
  });

  test('SPA navigation: pushState, replaceState and popstate each send a page view', async () => {
    scenario = await startScenario({ '/app': scriptTagPage({ 'auto-page': true }) });
    const page = await scenario.browser.newPage();
    await page.goto(`${scenario.site.url}/app`);
    await page.evaluate(() => {
      history.pushState({}, '', '/app/pricing');
      history.replaceState({}, '', '/app/pricing?plan=pro');
      history.replaceState({ scroll: 1 }, '');
    });
    await page.goBack();
    const events = await scenario.waitStored(4);
    // Every page view queued has been acknowledged: an extra one would be stored by now.
    expect(await waitFor(async () => (await queuedInBrowser(page)) === 0, 15_000)).toBe(true);
    const paths = (await scenario.stored()).map((e) => (e.context as { page: { path: string } }).page.path);
    expect(paths).toEqual(['/app', '/app/pricing', '/app/pricing', '/app']);
    expect(events.every((e) => e.type === 'page')).toBe(true);
  });

  test('use(): plugins enrich and filter events before they are queued; a throwing plugin is reported', async () => {
    scenario = await startScenario({ '/': scriptTagPage() });
    const page = await scenario.browser.newPage();
    const warnings: string[] = [];
    page.on('console', (m) => warnings.push(m.text()));
    await page.goto(`${scenario.site.url}/`);
    await page.evaluate(() => {
      const k = window.kimlik;
      k.use((e) => (e.event === 'Secret' ? null : e));
      k.use((e) => ({ ...e, context: { ...e.context, app: { build: '42' } } }));
      k.use((e) => {
        if (e.event === 'Boom') throw new Error('plugin failed');
        return e;
      });
      k.track('Kept', { n: 0 });
      k.track('Secret', { n: 1 });
      k.track('Boom', { n: 2 });
      k.track('Kept', { n: 3 });
    });
    // A sentinel after them: once it is stored, anything a plugin let through has been sent before it.
    await page.evaluate(() => window.kimlik.track('Kept', { n: 4 }));
    const events = await scenario.waitStored(3);
    expect(events.map((e) => (e.properties as { n: number }).n)).toEqual([0, 3, 4]);
    expect((events[0]?.context as { app?: unknown } | undefined)?.app).toEqual({ build: '42' });
    expect(warnings.some((w) => w.includes('KIMLIK_WEB_UNEXPECTED'))).toBe(true);
  });

  test('consent given in one tab applies to every tab of the site', async () => {
    scenario = await startScenario({ '/': scriptTagPage({ consent: 'pending', 'flush-interval-ms': 200 }) });
    const a = await scenario.browser.newPage();
    await a.goto(`${scenario.site.url}/`);
    await a.evaluate(() => window.kimlik.ready());
    const b = await scenario.browser.newPage();
    await b.goto(`${scenario.site.url}/`);
    await b.evaluate(() => window.kimlik.ready());
    await b.evaluate(() => {
      for (let n = 0; n < 3; n++) window.kimlik.track('Pending', { n });
    });
    expect(await waitFor(async () => (await queuedInBrowser(a)) === 3, 15_000)).toBe(true);
    await new Promise((r) => setTimeout(r, 500));
    expect(await scenario.stored()).toEqual([]);
    // The banner was answered in tab b; tab a sends.
    await b.evaluate(() => window.kimlik.consent('granted'));
    expect((await scenario.waitStored(3)).length).toBe(3);
    await a.evaluate(() => window.kimlik.consent('denied'));
    expect(await waitFor(async () => (await b.evaluate(() => localStorage.getItem('kimlik_aid'))) === null, 5000)).toBe(
      true,
    );
    await b.evaluate(() => window.kimlik.track('After denial'));
    await new Promise((r) => setTimeout(r, 800));
    expect((await scenario.stored()).length).toBe(3);
  });
});
