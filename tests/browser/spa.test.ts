import { describe, expect, test } from 'vitest';
import { hasChromium } from '../helpers/browser.js';
import { closeScenarioAfterEach, type Scenario, scriptTagPage, startScenario } from '../helpers/browser-scenario.js';

let scenario: Scenario | undefined;
closeScenarioAfterEach(() => scenario);

describe.skipIf(!hasChromium)(
  'browser SDK in a single-page app (needs /usr/bin/chromium)',
  { timeout: 120_000 },
  () => {
    test('SPA page views: the previous URL is the referrer, the title is the one the app sets after pushState', async () => {
      scenario = await startScenario({ '/app': scriptTagPage({ 'auto-page': true, 'flush-interval-ms': 100 }) });
      const page = await scenario.browser.newPage();
      await page.goto(`${scenario.site.url}/app`);
      // As routers do: the URL first, the new page's title when it renders.
      await page.evaluate(async () => {
        history.pushState({}, '', '/app/pricing');
        document.title = 'Pricing';
        await new Promise((r) => setTimeout(r, 50));
      });
      await page.evaluate(() => {
        history.pushState({}, '', '/app/signup');
        queueMicrotask(() => {
          document.title = 'Sign up';
        });
      });
      const events = await scenario.waitStored(3);
      const pages = events.map((e) => ({
        path: (e.context as { page: { path: string } }).page.path,
        ...(e.properties as { title: string; referrer: string }),
      }));
      const base = scenario.site.url;
      expect(pages.map((p) => [p.path, p.title, p.referrer])).toEqual([
        ['/app', 'Test page', ''],
        ['/app/pricing', 'Pricing', `${base}/app`],
        ['/app/signup', 'Sign up', `${base}/app/pricing`],
      ]);
      expect(events.map((e) => (e.context as { page: { referrer: string } }).page.referrer)).toEqual(
        pages.map((p) => p.referrer),
      );
    });

    test('an in-page anchor (#section) is not a page view; a hash route (#/path, #!/path) is', async () => {
      scenario = await startScenario({ '/app': scriptTagPage({ 'auto-page': true, 'flush-interval-ms': 100 }) });
      const page = await scenario.browser.newPage();
      await page.goto(`${scenario.site.url}/app`);
      await page.evaluate(async () => {
        // A hash assignment navigates asynchronously: the next step waits for its hashchange.
        const hash = (h: string) => {
          const changed = new Promise((r) => addEventListener('hashchange', r, { once: true }));
          location.hash = h;
          return changed;
        };
        await hash('#pricing');
        history.pushState({}, '', '/app#faq');
        await hash('#/settings');
        await hash('#/settings#billing');
        history.pushState({}, '', '/app#!/team');
        history.pushState({}, '', '/app/end');
      });
      const events = await scenario.waitStored(4);
      const base = `${scenario.site.url}/app`;
      const views = events.map((e) => [
        (e.properties as { url: string }).url,
        (e.properties as { referrer: string }).referrer,
      ]);
      expect(views).toEqual([
        [base, ''],
        [`${base}#/settings`, `${base}#faq`],
        [`${base}#!/team`, `${base}#/settings#billing`],
        [`${base}/end`, `${base}#!/team`],
      ]);
    });
  },
);
