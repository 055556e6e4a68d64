import type { Page } from 'playwright-core';
import { describe, expect, test } from 'vitest';
import { hasChromium, waitFor } from '../helpers/browser.js';
import { closeScenarioAfterEach, type Scenario, scriptTagPage, startScenario } from '../helpers/browser-scenario.js';

// What each public call sends, as stored by the collector: argument forms, identity fields,
// snapshots of the page's objects and plugins.

let scenario: Scenario | undefined;
closeScenarioAfterEach(() => scenario);

async function open(): Promise<Page> {
  scenario = await startScenario({ '/': scriptTagPage({ 'flush-interval-ms': 100 }) });
  const page = await scenario.browser.newPage();
  await page.goto(`${scenario.site.url}/`);
  await page.evaluate(() => window.kimlik.ready());
  return page;
}

/**
 * Tracks a sentinel, waits until it is stored (the SDK sends in order, so it comes last), and
 * returns the events stored before it, which must be `count`.
 */
async function storedBefore(page: Page, count: number): Promise<Record<string, unknown>[]> {
  await page.evaluate(() => window.kimlik.track('Sentinel'));
  let events: Record<string, unknown>[] = [];
  for (let n = count + 1; ; n = events.length + 1) {
    events = (await scenario?.waitStored(n)) ?? [];
    if (events.some((e) => e.event === 'Sentinel') || events.length < n) break;
  }
  expect(events.at(-1)?.event).toBe('Sentinel');
  expect(events).toHaveLength(count + 1);
  return events.slice(0, -1);
}

describe.skipIf(!hasChromium)('browser SDK calls (needs /usr/bin/chromium)', { timeout: 120_000 }, () => {
  test('alias(newId) once a user is known sends userId = newId and previousId = the old user', async () => {
    const page = await open();
    const user = await page.evaluate(() => {
      window.kimlik.identify('u-1');
      window.kimlik.alias('u-2');
      window.kimlik.alias('u-3', 'legacy-7');
      return window.kimlik.user();
    });
    const events = await storedBefore(page, 3);
    expect(events.map((e) => [e.type, e.userId, e.previousId])).toEqual([
      ['identify', 'u-1', undefined],
      ['alias', 'u-2', 'u-1'],
      ['alias', 'u-3', 'legacy-7'],
    ]);
    expect(user.userId).toBe('u-3');
  });

  test('blocked localStorage without Web Locks is reported once, not at every lease renewal', async () => {
    scenario = await startScenario({ '/': scriptTagPage({ 'flush-interval-ms': 100 }) });
    const page = await scenario.browser.newPage();
    await page.addInitScript(() => {
      delete (Navigator.prototype as { locks?: unknown }).locks;
      const w = window as unknown as { leaseReads: number };
      w.leaseReads = 0;
      Storage.prototype.getItem = (key: string) => {
        if (key.includes('leader') || key.includes(' ')) w.leaseReads++;
        throw new DOMException('blocked', 'SecurityError');
      };
      Storage.prototype.setItem = () => {
        throw new DOMException('blocked', 'SecurityError');
      };
    });
    const reports: string[] = [];
    page.on('console', (m) => m.text().includes('localStorage failed') && reports.push(m.text()));
    await page.goto(`${scenario.site.url}/`);
    const reads = () => page.evaluate(() => (window as unknown as { leaseReads: number }).leaseReads);
    await waitFor(async () => (await reads()) >= 2, 15_000);
    const early = reports.length;
    await waitFor(async () => (await reads()) >= 5, 15_000);
    expect(reports.length).toBe(early);
    await page.evaluate(() => window.kimlik.track('Still sent'));
    expect((await scenario.waitStored(1)).map((e) => e.event)).toEqual(['Still sent']);
  });

  test('blocked localStorage is reported once per page, not at each step of the load and each identify()', async () => {
    scenario = await startScenario({ '/': scriptTagPage({ 'flush-interval-ms': 100 }) });
    const page = await scenario.browser.newPage();
    await page.addInitScript(() => {
      Object.defineProperty(window, 'localStorage', {
        get() {
          throw new DOMException('blocked', 'SecurityError');
        },
      });
    });
    const reports: string[] = [];
    page.on('console', (m) => m.text().includes('KIMLIK_WEB_STORAGE_UNAVAILABLE') && reports.push(m.text()));
    await page.goto(`${scenario.site.url}/`);
    await page.evaluate(() => {
      window.kimlik.identify('u-1', { plan: 'a' }).identify({ plan: 'b' }).track('Still sent');
      return window.kimlik.flush();
    });
    expect((await scenario.waitStored(3)).map((e) => e.event ?? e.type)).toEqual([
      'identify',
      'identify',
      'Still sent',
    ]);
    expect(reports).toHaveLength(1);
    expect(reports[0]).toContain('localStorage failed');
  });

  test('a second init() is reported to onError and changes nothing: the first write key still sends', async () => {
    const page = await open();
    const warnings: string[] = [];
    page.on('console', (m) => warnings.push(m.text()));
    await page.evaluate(() => window.kimlik.init({ writeKey: 'wk_another_source', endpoint: 'http://127.0.0.1:9' }));
    await page.evaluate(() => window.kimlik.track('After second init'));
    expect((await storedBefore(page, 1)).map((e) => e.event)).toEqual(['After second init']);
    expect(
      warnings.filter((w) => w.includes('KIMLIK_INVALID_OPTION') && w.includes('init() ran already')),
    ).toHaveLength(1);
  });

  test('identify with another userId (no reset) drops the previous user’s traits', async () => {
    const page = await open();
    const user = await page.evaluate(() => {
      window.kimlik.identify({ theme: 'dark' }); // anonymous traits go with the first user
      window.kimlik.identify('ada', { email: 'ada@example.com', name: 'Ada' });
      window.kimlik.identify('ada', { plan: 'pro' });
      window.kimlik.identify('bob', { plan: 'free' });
      return window.kimlik.user();
    });
    const traits = (await storedBefore(page, 4)).map((e) => [e.userId, e.traits]);
    expect(traits).toEqual([
      [undefined, { theme: 'dark' }],
      ['ada', { theme: 'dark', email: 'ada@example.com', name: 'Ada' }],
      ['ada', { theme: 'dark', email: 'ada@example.com', name: 'Ada', plan: 'pro' }],
      ['bob', { plan: 'free' }],
    ]);
    expect(user).toMatchObject({ userId: 'bob', traits: { plan: 'free' } });
    await page.reload();
    expect(await page.evaluate(() => window.kimlik.user().traits)).toEqual({ plan: 'free' });
  });

  test("Segment's call forms: identify(traits), page(category, name, properties); group() without id is dropped", async () => {
    const page = await open();
    const warnings: string[] = [];
    page.on('console', (m) => warnings.push(m.text()));
    const user = await page.evaluate(() => {
      const k = window.kimlik as unknown as Record<string, (...a: unknown[]) => void>;
      k.identify?.('u-9');
      k.identify?.({ email: 'nine@example.com' });
      k.page?.('Docs', 'Intro', { a: 1 });
      k.page?.('Pricing', { b: 2 });
      k.page?.('Docs', 'not properties');
      k.group?.();
      k.group?.('acme', { seats: 3 });
      return window.kimlik.user();
    });
    expect(user).toMatchObject({ userId: 'u-9', traits: { email: 'nine@example.com' } });
    const events = await storedBefore(page, 6);
    expect(events[1]).toMatchObject({ type: 'identify', userId: 'u-9', traits: { email: 'nine@example.com' } });
    const pages = events.filter((e) => e.type === 'page') as { name?: string; properties: Record<string, unknown> }[];
    expect(pages.map((p) => p.name)).toEqual(['Intro', 'Pricing', 'not properties']);
    expect(pages[0]?.properties).toMatchObject({ category: 'Docs', a: 1, path: '/' });
    expect(pages[1]?.properties).toMatchObject({ b: 2, path: '/' });
    expect(pages[1]?.properties.category).toBeUndefined();
    expect(pages[2]?.properties).toMatchObject({ category: 'Docs', path: '/' });
    expect(Object.keys(pages[2]?.properties ?? {})).not.toContain('0');
    const groups = events.filter((e) => e.type === 'group');
    expect(groups.map((g) => [g.groupId, g.traits])).toEqual([['acme', { seats: 3 }]]);
    expect(warnings.some((w) => w.includes('KIMLIK_VALIDATION') && w.includes('groupId'))).toBe(true);
  });

  test('objects are read at the call: later changes by the page are not sent; odd values never throw', async () => {
    const page = await open();
    const warnings: string[] = [];
    page.on('console', (m) => warnings.push(m.text()));
    await page.evaluate(() => {
      const props = { step: -1, nested: { step: -1 } };
      for (let i = 0; i < 3; i++) {
        props.step = i;
        props.nested.step = i;
        window.kimlik.track('Step', props);
      }
      const traits = { plan: 'a' };
      window.kimlik.identify('u-1', traits);
      traits.plan = 'changed after the call';
      const circular: { self?: unknown } = {};
      circular.self = circular;
      window.kimlik.track('Circular', circular as never);
      window.kimlik.track('BigInt', { n: 10n } as never);
    });
    const events = await storedBefore(page, 4);
    expect(events.filter((e) => e.event === 'Step').map((e) => e.properties)).toEqual([
      { step: 0, nested: { step: 0 } },
      { step: 1, nested: { step: 1 } },
      { step: 2, nested: { step: 2 } },
    ]);
    expect(events.find((e) => e.type === 'identify')?.traits).toEqual({ plan: 'a' });
    // As before: what JSON cannot carry is reported and dropped, never thrown into the page.
    expect(events.map((e) => e.event ?? e.type)).toEqual(['Step', 'Step', 'Step', 'identify']);
    expect(warnings.filter((w) => w.includes('KIMLIK_VALIDATION')).length).toBe(2);
  });

  test('alias() without a userId is reported and dropped: the user stays (it became "undefined")', async () => {
    const page = await open();
    const warnings: string[] = [];
    page.on('console', (m) => warnings.push(m.text()));
    const userId = await page.evaluate(() => {
      const k = window.kimlik as unknown as Record<string, (...a: unknown[]) => unknown>;
      k.identify?.('u-1');
      k.alias?.();
      k.alias?.(null);
      k.alias?.('');
      return window.kimlik.user().userId;
    });
    expect(userId).toBe('u-1');
    expect(warnings.filter((w) => w.includes('KIMLIK_VALIDATION')).length).toBe(3);
    expect((await storedBefore(page, 1)).map((e) => e.type)).toEqual(['identify']);
  });

  test('identify() with a value JSON cannot carry is dropped whole: user and traits stay as they were', async () => {
    const page = await open();
    const user = await page.evaluate(() => {
      const k = window.kimlik;
      k.identify('u-1', { plan: 'pro', address: { city: 'Paris' } });
      const circular: { self?: unknown } = {};
      circular.self = circular;
      k.identify('u-2', { me: circular } as never);
      k.identify({ big: 10n } as never);
      k.identify({ plan: 'team' });
      // user() is a copy all the way down: changing it changes nothing in the SDK.
      (k.user().traits.address as { city: string }).city = 'changed by the page';
      return JSON.stringify(k.user());
    });
    expect(JSON.parse(user)).toMatchObject({ userId: 'u-1', traits: { plan: 'team', address: { city: 'Paris' } } });
    await page.reload();
    expect(await page.evaluate(() => window.kimlik.user())).toMatchObject({
      userId: 'u-1',
      traits: { plan: 'team', address: { city: 'Paris' } },
    });
    const events = await storedBefore(page, 2);
    expect(events.map((e) => [e.userId, (e.traits as { plan: string }).plan])).toEqual([
      ['u-1', 'pro'],
      ['u-1', 'team'],
    ]);
  });

  test("a plugin cannot change an event's messageId; page(properties) is Segment's properties-only form", async () => {
    const page = await open();
    await page.evaluate(() => {
      const k = window.kimlik;
      k.use((e) => {
        e.messageId = 'set-by-a-plugin';
        return e;
      });
      k.track('A');
      k.track('B');
      (k.page as unknown as (p: object) => void)({ custom: 'yes' });
    });
    const events = await storedBefore(page, 3);
    const ids = events.map((e) => e.messageId as string);
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-/);
    expect(new Set(ids).size).toBe(3);
    expect(events[2]).not.toHaveProperty('name');
    expect(events[2]?.properties).toMatchObject({ custom: 'yes', path: '/' });
  });

  test('a plugin returning no event (an async plugin’s promise, a string) skips the call, reported once; a rejection stays in the SDK', async () => {
    const page = await open();
    const warnings: string[] = [];
    page.on('console', (m) => warnings.push(m.text()));
    await page.evaluate(() => {
      const k = window.kimlik;
      const results: Record<string, () => unknown> = {
        // Segment's plugins are async: the promise was spread into an event of its messageId alone.
        Async: () => Promise.resolve({ type: 'track', event: 'Async' }),
        Rejected: () => Promise.reject(new Error('async plugin failed')),
        String: () => 'x',
        Number: () => 1,
      };
      k.use(((e: { event?: string }) => results[e.event ?? '']?.() ?? e) as never);
      for (const name of ['Async', 'Rejected', 'String', 'Number', 'Kept']) k.track(name);
    });
    expect((await storedBefore(page, 1)).map((e) => e.event)).toEqual(['Kept']);
    const reports = warnings.filter((w) => w.includes('KIMLIK_'));
    expect(reports).toHaveLength(4);
    for (const r of reports) expect(r).toMatch(/KIMLIK_WEB_UNEXPECTED.*synchronous/);
    // The rejection is caught: closeScenarioAfterEach finds no page error.
  });

  test('plugins get copies (user() is not changed) and see only the calls made after they were added', async () => {
    const page = await open();
    const user = await page.evaluate(() => {
      const k = window.kimlik;
      k.use((e) => {
        if (e.traits) e.traits.plan = 'edited by a plugin';
        return e;
      });
      k.identify('u-1', { plan: 'pro' });
      k.track('Before', { n: 0 });
      k.use((e) => ({ ...e, properties: { ...e.properties, late: true } }));
      k.track('After', { n: 1 });
      return k.user();
    });
    expect(user.traits).toEqual({ plan: 'pro' });
    expect(await page.evaluate(() => JSON.parse(localStorage.getItem('kimlik_user') ?? '{}').traits)).toEqual({
      plan: 'pro',
    });
    const events = await storedBefore(page, 3);
    expect(events[0]?.traits).toEqual({ plan: 'edited by a plugin' });
    expect(events.slice(1).map((e) => e.properties)).toEqual([{ n: 0 }, { n: 1, late: true }]);
  });
});
