import { describe, expect, test } from 'vitest';
import { hasChromium, waitFor } from '../helpers/browser.js';
import {
  closeScenarioAfterEach,
  type Scenario,
  SUBDOMAINS,
  scriptTagPage,
  startScenario,
  subdomainTab,
} from '../helpers/browser-scenario.js';

// Consent and privacy signals across loads.

let scenario: Scenario | undefined;
closeScenarioAfterEach(() => scenario);

/** Events the test site forwarded to the collector (a request is recorded after the answer). */
const posted = (s: Scenario) => s.site.requests.reduce((n, r) => n + Math.max(r.events, 0), 0);

describe.skipIf(!hasChromium)('browser SDK privacy (needs /usr/bin/chromium)', { timeout: 120_000 }, () => {
  test("consent('denied') is remembered: later loads send nothing until consent('granted')", async () => {
    scenario = await startScenario({ '/': scriptTagPage({ 'auto-page': true, 'flush-interval-ms': 100 }) });
    const page = await scenario.browser.newPage();
    await page.goto(`${scenario.site.url}/`);
    await scenario.waitStored(1);
    await page.evaluate(() => window.kimlik.consent('denied'));
    // The page starts with consent 'granted' (the default option) on every load.
    await page.reload();
    await page.evaluate(() => window.kimlik.ready());
    await page.evaluate(() => window.kimlik.track('After refusal'));
    // No ID left on the device: the cookie only says that the visitor refused.
    expect(await page.evaluate(() => [document.cookie, localStorage.getItem('kimlik_aid')])).toEqual([
      'kimlik_aid=denied',
      null,
    ]);
    await page.evaluate(() => window.kimlik.consent('granted'));
    await page.evaluate(() => window.kimlik.track('After grant', { n: 1 }));
    const events = await scenario.waitStored(2);
    expect(events.map((e) => e.event ?? e.type)).toEqual(['page', 'After grant']);
    await waitFor(() => posted(scenario as Scenario) >= 2, 10_000);
    expect(posted(scenario)).toBe(2);
    // Granted is the choice now: the next load tracks again.
    await page.reload();
    expect((await scenario.waitStored(3)).at(-1)?.type).toBe('page');
  });

  test('a refusal on one subdomain holds on the others, which do not write the ID back', async () => {
    const page = scriptTagPage({ 'flush-interval-ms': 100 });
    scenario = await startScenario({ '/': page }, SUBDOMAINS);
    const shop = await subdomainTab(scenario, 'shop');
    const blog = await subdomainTab(scenario, 'blog');
    await blog.evaluate(() => window.kimlik.track('Before refusal'));
    await scenario.waitStored(1);
    await shop.evaluate(() => window.kimlik.consent('denied'));
    await blog.reload();
    await blog.evaluate(() => window.kimlik.track('After refusal'));
    await blog.evaluate(() => window.kimlik.flush());
    const cookies = (await scenario.browser.context.cookies()).filter((c) => c.name === 'kimlik_aid');
    expect(cookies.map((c) => [c.domain, c.value])).toEqual([['.kimlik.test', 'denied']]);
    // Granted on the blog: a new ID for the site, and events again.
    await blog.evaluate(() => window.kimlik.consent('granted'));
    await blog.evaluate(() => window.kimlik.track('After grant'));
    const events = await scenario.waitStored(2);
    expect(events.map((e) => e.event)).toEqual(['Before refusal', 'After grant']);
    const aid = (await scenario.browser.context.cookies()).find((c) => c.name === 'kimlik_aid')?.value;
    expect(aid).toBe(await blog.evaluate(() => window.kimlik.user().anonymousId));
    expect(aid).not.toBe(events[0]?.anonymousId);
  });

  test('a refusal on one subdomain stops a tab already open on another: nothing more leaves it, its ID is forgotten', async () => {
    scenario = await startScenario({ '/': scriptTagPage({ 'flush-interval-ms': 100 }) }, SUBDOMAINS);
    const shop = await subdomainTab(scenario, 'shop');
    const blog = await subdomainTab(scenario, 'blog');
    await shop.evaluate(() => window.kimlik.ready());
    await blog.evaluate(() => window.kimlik.track('Before refusal'));
    await scenario.waitStored(1);
    await waitFor(() => posted(scenario as Scenario) >= 1, 10_000);
    // No channel reaches another origin: the blog learns of it from the site's cookie alone.
    await shop.evaluate(() => window.kimlik.consent('denied'));
    await blog.evaluate(() => window.kimlik.track('After refusal elsewhere'));
    await blog.evaluate(() => window.kimlik.flush());
    expect(posted(scenario)).toBe(1);
    expect(await blog.evaluate(() => [document.cookie, localStorage.getItem('kimlik_aid')])).toEqual([
      'kimlik_aid=denied',
      null,
    ]);
    // Applied as the blog's own refusal: its later calls are dropped too.
    await blog.evaluate(() => window.kimlik.track('Later'));
    await blog.evaluate(() => window.kimlik.flush());
    expect(posted(scenario)).toBe(1);
    expect((await scenario.stored()).map((e) => e.event)).toEqual(['Before refusal']);
  });

  test("a page that starts with the consent option 'denied' (an opt-in site) leaves no refusal for the others", async () => {
    scenario = await startScenario(
      {
        '/optin': scriptTagPage({ consent: 'denied', 'flush-interval-ms': 100 }),
        '/': scriptTagPage({ 'flush-interval-ms': 100 }),
      },
      SUBDOMAINS,
    );
    const shop = await subdomainTab(scenario, 'shop', '/optin');
    await shop.evaluate(() => window.kimlik.ready());
    const blog = await subdomainTab(scenario, 'blog');
    await blog.evaluate(() => window.kimlik.track('On the blog'));
    expect((await scenario.waitStored(1)).map((e) => e.event)).toEqual(['On the blog']);
  });

  // Each signal as a browser exposes it: Global Privacy Control, and Do-Not-Track given as
  // window.doNotTrack (Safari, old Edge) while navigator.doNotTrack says nothing.
  const signals: [string, () => void][] = [
    [
      'Global Privacy Control',
      () => Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', { get: () => true }),
    ],
    [
      'Do-Not-Track as window.doNotTrack',
      () => {
        Object.defineProperty(Navigator.prototype, 'doNotTrack', { get: () => null });
        Object.defineProperty(window, 'doNotTrack', { get: () => '1' });
      },
    ],
  ];
  test.each(signals)('%s is honoured when the site opts in: nothing sent, nothing stored', async (_, signal) => {
    scenario = await startScenario({
      '/': scriptTagPage({ 'respect-privacy-signals': true, 'auto-page': true }),
      '/no-opt-in': scriptTagPage({ 'auto-page': true }),
    });
    await scenario.browser.context.addInitScript(signal);
    const page = await scenario.browser.newPage();
    await page.goto(`${scenario.site.url}/`);
    await page.evaluate(() => window.kimlik.track('Tracked anyway?'));
    expect(await page.evaluate(() => document.cookie + (localStorage.getItem('kimlik_aid') ?? ''))).toBe('');
    // A sentinel: without the opt-in the signal is not acted on, and this page sends its page view
    // behind anything the first page queued (the queue is shared and sent oldest first).
    await page.goto(`${scenario.site.url}/no-opt-in`);
    const stored = await scenario.waitStored(1);
    expect(stored.map((e) => e.type)).toEqual(['page']);
    await waitFor(() => posted(scenario as Scenario) >= 1, 10_000);
    expect(posted(scenario)).toBe(1);
  });
});
