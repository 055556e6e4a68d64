import { describe, expect, test } from 'vitest';
import { hasChromium } from '../helpers/browser.js';
import {
  closeScenarioAfterEach,
  type Scenario,
  SUBDOMAINS,
  scriptTagPage,
  startScenario,
  subdomainTab,
} from '../helpers/browser-scenario.js';

let scenario: Scenario | undefined;
closeScenarioAfterEach(() => scenario);

const aidIn = (page: import('playwright-core').Page) =>
  page.evaluate(() => ({
    sdk: window.kimlik.user().anonymousId,
    ls: localStorage.getItem('kimlik_aid'),
    cookie: /(?:^|; )kimlik_aid=([^;]*)/.exec(document.cookie)?.[1] ?? null,
  }));

describe.skipIf(!hasChromium)('anonymous ID on the device (needs /usr/bin/chromium)', { timeout: 120_000 }, () => {
  test('subdomains share one ID through a cookie on the top registrable domain', async () => {
    // Two subdomains of kimlik.test, both resolved to the test site on 127.0.0.1.
    scenario = await startScenario({ '/': scriptTagPage() }, SUBDOMAINS);
    const shop = await subdomainTab(scenario, 'shop');
    const first = await aidIn(shop);
    const blog = await subdomainTab(scenario, 'blog');
    const second = await aidIn(blog);
    expect(second.sdk).toBe(first.sdk);
    // localStorage is per origin: the blog's copy was written from the shared cookie.
    expect(second.ls).toBe(first.sdk);
    const cookie = (await scenario.browser.context.cookies()).find((c) => c.name === 'kimlik_aid');
    expect(cookie?.domain).toBe('.kimlik.test');
  });

  test('a logout on one subdomain ends the user on the others: the next visitor is not the previous user', async () => {
    scenario = await startScenario({ '/': scriptTagPage() }, SUBDOMAINS);
    const shop = await subdomainTab(scenario, 'shop');
    const blog = await subdomainTab(scenario, 'blog');
    for (const page of [shop, blog]) await page.evaluate(() => window.kimlik.identify('alice', { plan: 'pro' }));
    await shop.evaluate(() => window.kimlik.reset());
    await blog.reload();
    const after = await blog.evaluate(() => window.kimlik.user());
    const shopNow = await shop.evaluate(() => window.kimlik.user());
    expect(after).toEqual({ anonymousId: shopNow.anonymousId, userId: null, traits: {} });
  });

  test("a tab left open on another subdomain does not write the old ID back over a logout's new one", async () => {
    scenario = await startScenario({ '/': scriptTagPage() }, SUBDOMAINS);
    const shop = await subdomainTab(scenario, 'shop');
    const blog = await subdomainTab(scenario, 'blog');
    for (const page of [shop, blog]) await page.evaluate(() => window.kimlik.identify('alice'));
    await shop.evaluate(() => window.kimlik.reset());
    const fresh = await shop.evaluate(() => window.kimlik.user().anonymousId);
    // The blog tab, still open with alice in memory, saves its identity.
    await blog.evaluate(() => window.kimlik.identify({ plan: 'pro' }));
    const cookie = (await scenario.browser.context.cookies()).find((c) => c.name === 'kimlik_aid');
    expect(cookie?.value).toBe(fresh);
    const next = await subdomainTab(scenario, 'docs');
    expect(await next.evaluate(() => window.kimlik.user())).toEqual({ anonymousId: fresh, userId: null, traits: {} });
  });

  test('the cookie wins when the stores disagree; either store alone restores the ID', async () => {
    scenario = await startScenario({ '/': scriptTagPage() });
    const page = await scenario.browser.newPage();
    await page.goto(`${scenario.site.url}/`);
    const original = (await aidIn(page)).sdk;

    await page.evaluate(() => localStorage.setItem('kimlik_aid', 'from-local-storage'));
    await page.reload();
    expect(await aidIn(page)).toEqual({ sdk: original, ls: original, cookie: original });

    await scenario.browser.context.clearCookies();
    await page.reload();
    expect(await aidIn(page)).toEqual({ sdk: original, ls: original, cookie: original });

    await page.evaluate(() => localStorage.removeItem('kimlik_aid'));
    await page.reload();
    expect(await aidIn(page)).toEqual({ sdk: original, ls: original, cookie: original });
  });
});
