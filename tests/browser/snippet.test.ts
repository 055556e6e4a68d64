import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { hasChromium } from '../helpers/browser.js';
import { closeScenarioAfterEach, type Scenario, startScenario } from '../helpers/browser-scenario.js';

// The async snippet's stub on real pages: what else may sit on window.kimlik, and what a call
// recorded before the bundle loaded says about when and where it was made.

const SNIPPET = readFileSync(new URL('../../sdk-web/dist/snippet.min.js', import.meta.url), 'utf8');
const BUNDLE = readFileSync(new URL('../../sdk-web/dist/kimlik.min.js', import.meta.url));

let scenario: Scenario | undefined;
closeScenarioAfterEach(() => scenario);

const snippet = (s: Scenario, src: string) =>
  SNIPPET.replace('__KIMLIK_SRC__', src).replace('__KIMLIK_WRITE_KEY__', s.collector.writeKey);

describe.skipIf(!hasChromium)('the snippet (needs /usr/bin/chromium)', { timeout: 120_000 }, () => {
  test('an element with id="kimlik" (window.kimlik in browsers) does not break the stub or the SDK', async () => {
    scenario = await startScenario({});
    scenario.site.page(
      '/',
      `<!doctype html><title>element</title><body><div id="kimlik">widget</div>
<script>${snippet(scenario, '/kimlik.js')}
kimlik.init({ autoPage: false }); kimlik.track('Before load', { n: 0 });</script></body>`,
    );
    const page = await scenario.browser.newPage();
    await page.goto(`${scenario.site.url}/`);
    await page.waitForFunction(() => typeof window.kimlik.ready === 'function' && !Array.isArray(window.kimlik));
    await page.evaluate(() => window.kimlik.track('After load', { n: 1 }));
    const events = await scenario.waitStored(2);
    expect(events.map((e) => e.event)).toEqual(['Before load', 'After load']);
  });

  test('calls chain the same before and after the bundle loads (the stub returns itself; so does the SDK)', async () => {
    scenario = await startScenario({});
    scenario.site.page(
      '/',
      `<!doctype html><title>chain</title><script>${snippet(scenario, '/kimlik.js')}
window.k = kimlik; k.init({ autoPage: false }).track('Before 1').track('Before 2');</script>`,
    );
    const page = await scenario.browser.newPage();
    await page.goto(`${scenario.site.url}/`);
    await page.waitForFunction(() => !Array.isArray(window.kimlik));
    await page.evaluate(() => {
      const k = (window as unknown as { k: typeof window.kimlik }).k;
      k.track('After 1').identify('u-chain').track('After 2');
      window.kimlik.page('Home').track('After 3');
    });
    const events = await scenario.waitStored(7);
    expect(events.map((e) => e.event ?? e.name ?? e.type)).toEqual([
      'Before 1',
      'Before 2',
      'After 1',
      'identify',
      'After 2',
      'Home',
      'After 3',
    ]);
  });

  test('a call recorded before the bundle loads keeps its time and page when replayed', async () => {
    scenario = await startScenario({});
    scenario.site.page(
      '/first',
      `<!doctype html><title>First</title><script>${snippet(scenario, '/kimlik.js?late')}
kimlik.init({ autoPage: false }); window.calledAt = Date.now(); kimlik.track('Early');
history.pushState({}, '', '/second?tab=2'); document.title = 'Second';</script>`,
    );
    await scenario.browser.context.route(`${scenario.site.url}/kimlik.js?late`, async (route) => {
      await new Promise((r) => setTimeout(r, 1500));
      await route.fulfill({ contentType: 'application/javascript', body: BUNDLE });
    });
    const page = await scenario.browser.newPage();
    await page.goto(`${scenario.site.url}/first`);
    await page.waitForFunction(() => !Array.isArray(window.kimlik), undefined, { timeout: 10_000 });
    await page.evaluate(() => window.kimlik.track('Late'));
    const calledAt = await page.evaluate(() => (window as unknown as { calledAt: number }).calledAt);
    const [early, late] = await scenario.waitStored(2);
    expect(Date.parse(String(early?.originalTimestamp ?? early?.timestamp)) - calledAt).toBeLessThan(100);
    expect((early?.context as { page: Record<string, string> } | undefined)?.page).toMatchObject({
      path: '/first',
      search: '',
      title: 'First',
      url: `${scenario.site.url}/first`,
    });
    expect((late?.context as { page: Record<string, string> } | undefined)?.page).toMatchObject({
      path: '/second',
      search: '?tab=2',
      title: 'Second',
    });
  });

  test("the stub's ready() and flush() are promises: settled by the SDK, or by a bundle that fails to load", async () => {
    scenario = await startScenario({});
    const calls = `window.order = [];
kimlik.ready().then(() => order.push('ready'));
kimlik.track('Early');
kimlik.flush().then(() => order.push('flushed'));`;
    scenario.site.page(
      '/',
      `<!doctype html><title>late</title><script>${snippet(scenario, '/kimlik.js?late')}\n${calls}</script>`,
    );
    scenario.site.page(
      '/blocked',
      `<!doctype html><title>blocked</title><script>${snippet(scenario, '/blocked.js')}\n${calls}</script>`,
    );
    await scenario.browser.context.route(`${scenario.site.url}/kimlik.js?late`, async (route) => {
      await new Promise((r) => setTimeout(r, 500));
      await route.fulfill({ contentType: 'application/javascript', body: BUNDLE });
    });
    const page = await scenario.browser.newPage();
    await page.goto(`${scenario.site.url}/`);
    await page.waitForFunction(() => (window as unknown as { order: string[] }).order.length === 2);
    // flush() resolves once the SDK has sent what was queued, after it is ready.
    expect(await page.evaluate(() => (window as unknown as { order: string[] }).order)).toEqual(['ready', 'flushed']);
    expect(await page.evaluate(() => Array.isArray(window.kimlik))).toBe(false);
    // The automatic page view is made at load, after the calls the stub recorded.
    expect((await scenario.waitStored(2)).map((e) => e.event ?? e.type)).toEqual(['Early', 'page']);
    // Blocked: the page's awaits go on (a click handler awaiting flush() before navigating).
    await page.goto(`${scenario.site.url}/blocked`);
    await page.waitForFunction(() => (window as unknown as { order: string[] }).order.length === 2);
    expect(await page.evaluate(() => Array.isArray(window.kimlik))).toBe(true);
    expect(
      await page.evaluate(async () => {
        await window.kimlik.flush();
        return 'answered';
      }),
    ).toBe('answered');
  });

  test('ready(callback) on the stub calls the callback once, whether the bundle loads or is blocked', async () => {
    scenario = await startScenario({});
    const calls = `window.order = [];
kimlik.init({ autoPage: false });
kimlik.ready(() => order.push('callback'));
kimlik.ready().then(() => order.push('promise'));`;
    scenario.site.page(
      '/',
      `<!doctype html><title>loads</title><script>${snippet(scenario, '/kimlik.js')}\n${calls}</script>`,
    );
    scenario.site.page(
      '/blocked',
      `<!doctype html><title>blocked</title><script>${snippet(scenario, '/blocked.js')}\n${calls}</script>`,
    );
    const page = await scenario.browser.newPage();
    const order = async () => {
      await page.waitForFunction(() => (window as unknown as { order: string[] }).order.length === 2, undefined, {
        timeout: 10_000,
      });
      // A task later: a second call of the callback would be in by then.
      return page.evaluate(async () => {
        await new Promise((r) => setTimeout(r));
        return (window as unknown as { order: string[] }).order.sort();
      });
    };
    await page.goto(`${scenario.site.url}/`);
    expect(await order()).toEqual(['callback', 'promise']);
    // Blocked: the promise resolved, the callback was never called.
    await page.goto(`${scenario.site.url}/blocked`);
    expect(await order()).toEqual(['callback', 'promise']);
    expect(await page.evaluate(() => Array.isArray(window.kimlik))).toBe(true);
    // Called after the failure too.
    expect(await page.evaluate(() => new Promise((resolve) => window.kimlik.ready(() => resolve('called'))))).toBe(
      'called',
    );
  });

  test('with the bundle blocked, the stub ignores a ready()/flush() argument that is no function and keeps a throwing callback from the page', async () => {
    scenario = await startScenario({});
    scenario.site.page(
      '/blocked',
      `<!doctype html><title>blocked</title><script>
window.rejections = [];
addEventListener('unhandledrejection', (e) => rejections.push(String(e.reason)));
${snippet(scenario, '/blocked.js')}</script>`,
    );
    const page = await scenario.browser.newPage();
    const logged: string[] = [];
    page.on('console', (m) => logged.push(m.text()));
    await page.goto(`${scenario.site.url}/blocked`);
    const answered = await page.evaluate(async () => {
      const k = window.kimlik as unknown as Record<string, (arg?: unknown) => Promise<void>>;
      // As the SDK's ready()/flush() do: only a function is a callback.
      await k.ready?.('x');
      await k.flush?.(123);
      let called = false;
      await k.ready?.(() => {
        called = true;
        throw new Error('callback failed');
      });
      // Two tasks later: an unhandled rejection is reported by then.
      for (let i = 0; i < 2; i++) await new Promise((r) => setTimeout(r));
      return [called, (window as unknown as { rejections: string[] }).rejections];
    });
    expect(answered).toEqual([true, []]);
    // Not silent: said where the developer looks.
    expect(logged.some((line) => line.includes('callback failed'))).toBe(true);
  });

  test('the automatic page view comes after the calls the stub recorded: their plugins and identify apply to it', async () => {
    scenario = await startScenario({});
    scenario.site.page(
      '/',
      `<!doctype html><title>auto page</title><script>${snippet(scenario, '/kimlik.js')}
kimlik.use((e) => {
  const scrubbed = JSON.parse(JSON.stringify(e).replace(/email=[^&"]*/g, 'email=REDACTED'));
  return { ...scrubbed, properties: { ...scrubbed.properties, scrubbed: true } };
});
kimlik.identify('u-snippet');
kimlik.track('First');</script>`,
    );
    const page = await scenario.browser.newPage();
    await page.goto(`${scenario.site.url}/?email=alice%40example.com`);
    const events = await scenario.waitStored(3);
    expect(events.map((e) => e.event ?? e.type)).toEqual(['identify', 'First', 'page']);
    const view = events[2] as Record<string, unknown>;
    expect(view.userId).toBe('u-snippet');
    expect(view.properties).toMatchObject({ scrubbed: true });
    expect(JSON.stringify(view)).not.toContain('alice');
  });

  test("the load's page view keeps the landing URL and its campaign when a router rewrites the URL before the bundle arrives", async () => {
    scenario = await startScenario({});
    // The app's router drops the tracking parameters (history.replaceState) while the bundle loads.
    const router = `<script>history.replaceState({}, '', '/home');</script>`;
    scenario.site.page(
      '/',
      `<!doctype html><title>Shop</title><script>${snippet(scenario, '/kimlik.js?late')}</script>${router}`,
    );
    scenario.site.page(
      '/defer',
      `<!doctype html><title>Shop</title><script defer src="/kimlik.js?late" data-write-key="${scenario.collector.writeKey}"></script>${router}`,
    );
    await scenario.browser.context.route(`${scenario.site.url}/kimlik.js?late`, async (route) => {
      await new Promise((r) => setTimeout(r, 500));
      await route.fulfill({ contentType: 'application/javascript', body: BUNDLE });
    });
    const page = await scenario.browser.newPage();
    for (const path of ['/', '/defer']) {
      await page.goto(`${scenario.site.url}${path}?utm_campaign=spring&utm_source=news`);
      await page.waitForFunction(() => !Array.isArray(window.kimlik) && location.pathname === '/home');
      await page.evaluate(() => window.kimlik.flush());
    }
    // Each load's first view: the second is of /home, the new path the router moved to (see the test
    // of a route pushed before the bundle arrives; dropping the query alone is no second view).
    const views = (await scenario.waitStored(4)).filter((_, i) => i % 2 === 0);
    expect(
      views.map((e) => [
        (e.properties as { url: string }).url,
        (e.context as { page: { url: string } }).page.url,
        (e.context as { campaign?: unknown }).campaign,
      ]),
    ).toEqual(
      ['/', '/defer'].map((path) => {
        const url = `${scenario?.site.url}${path}?utm_campaign=spring&utm_source=news`;
        return [url, url, { name: 'spring', source: 'news' }];
      }),
    );
  });

  test('a route the app pushes before the bundle arrives gets its page view after the landing one, which does not take its title', async () => {
    scenario = await startScenario({});
    // The router renders the page it routes to (history.pushState, then its title) while the bundle loads.
    scenario.site.page(
      '/',
      `<!doctype html><title>Shop</title><script>${snippet(scenario, '/kimlik.js?late')}
kimlik.track('Landed');</script>
<script>history.pushState({}, '', '/routed'); document.title = 'Routed';</script>`,
    );
    await scenario.browser.context.route(`${scenario.site.url}/kimlik.js?late`, async (route) => {
      await new Promise((r) => setTimeout(r, 500));
      await route.fulfill({ contentType: 'application/javascript', body: BUNDLE });
    });
    const page = await scenario.browser.newPage();
    await page.goto(`${scenario.site.url}/`);
    await page.waitForFunction(() => !Array.isArray(window.kimlik));
    await page.evaluate(() => window.kimlik.flush());
    const base = scenario.site.url;
    const events = (await scenario.waitStored(3)).map((e) =>
      e.type === 'page'
        ? ['page', ...['url', 'title', 'referrer'].map((k) => (e.properties as Record<string, unknown>)[k])]
        : [e.event],
    );
    expect(events).toEqual([
      ['Landed'],
      // The title the page has now is the routed page's: the landing page's view has none.
      ['page', `${base}/`, undefined, ''],
      ['page', `${base}/routed`, 'Routed', `${base}/`],
    ]);
  });

  test('a landing whose URL the app tidies before the bundle arrives (a hash router adding #/, utm parameters dropped) is one page view, with its title', async () => {
    scenario = await startScenario({});
    // Vue Router's hash mode and Angular's useHash add the root route; other apps drop utm_* from the address bar.
    const tidy = {
      '/': `history.replaceState(null, '', location.pathname + '#/'); document.title = 'Home';`,
      '/bang': `history.replaceState(null, '', location.pathname + '#!/'); document.title = 'Home';`,
      '/utm': `history.replaceState(null, '', location.pathname);`,
    };
    for (const [path, script] of Object.entries(tidy)) {
      scenario.site.page(
        path,
        `<!doctype html><title>Shop</title><script>${snippet(scenario, '/kimlik.js?late')}</script><script>${script}</script>`,
      );
    }
    await scenario.browser.context.route(`${scenario.site.url}/kimlik.js?late`, async (route) => {
      await new Promise((r) => setTimeout(r, 500));
      await route.fulfill({ contentType: 'application/javascript', body: BUNDLE });
    });
    const page = await scenario.browser.newPage();
    const base = scenario.site.url;
    const landings = [`${base}/`, `${base}/bang`, `${base}/utm?utm_source=news`];
    for (const url of landings) {
      await page.goto(url);
      await page.waitForFunction(() => !Array.isArray(window.kimlik));
      // A timer set after the SDK's own (a view of a moved page is made a task later): a second
      // view would be stored before this event.
      await page.evaluate(() => new Promise((done) => setTimeout(() => done(window.kimlik.track('Next').flush()))));
    }
    const events = (await scenario.waitStored(6)).map((e) =>
      e.type === 'page'
        ? ['page', ...['url', 'title'].map((k) => (e.properties as Record<string, unknown>)[k])]
        : [e.event],
    );
    expect(events).toEqual([
      ['page', landings[0], 'Home'],
      ['Next'],
      ['page', landings[1], 'Home'],
      ['Next'],
      ['page', landings[2], 'Shop'],
      ['Next'],
    ]);
  });

  test('init() with an invalid option: ready() and flush(), from the stub and after, still settle', async () => {
    scenario = await startScenario({});
    scenario.site.page(
      '/',
      `<!doctype html><title>bad option</title><script>${snippet(scenario, '/kimlik.js')}
kimlik.init({ flushAt: 0 });
window.order = [];
kimlik.ready().then(() => order.push('ready'));
kimlik.track('Never sent');
kimlik.flush().then(() => order.push('flushed'));</script>`,
    );
    const page = await scenario.browser.newPage();
    const errors: string[] = [];
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
    await page.goto(`${scenario.site.url}/`);
    await page.waitForFunction(() => !Array.isArray(window.kimlik), undefined, { timeout: 10_000 });
    await page.waitForFunction(() => (window as unknown as { order: string[] }).order.length === 2, undefined, {
      timeout: 5_000,
    });
    const later = await page.evaluate(async () => {
      await window.kimlik.flush();
      await window.kimlik.ready();
      window.kimlik.track('Also never sent');
      return 'answered';
    });
    expect(later).toBe('answered');
    expect(errors.some((e) => e.includes('flushAt'))).toBe(true);
  });

  test('a plugin recorded by the stub applies only to the calls recorded after it', async () => {
    scenario = await startScenario({});
    scenario.site.page(
      '/',
      `<!doctype html><title>plugins</title><script>${snippet(scenario, '/kimlik.js')}
kimlik.init({ autoPage: false });
kimlik.track('Before', { n: 0 });
kimlik.use((e) => ({ ...e, properties: { ...e.properties, plugged: true } }));
kimlik.track('After', { n: 1 });</script>`,
    );
    const page = await scenario.browser.newPage();
    await page.goto(`${scenario.site.url}/`);
    const events = await scenario.waitStored(2);
    expect(events.map((e) => [e.event, e.properties])).toEqual([
      ['Before', { n: 0 }],
      ['After', { n: 1, plugged: true }],
    ]);
  });

  test('calls made before init() keep their time and page when init() comes later', async () => {
    scenario = await startScenario({});
    const { writeKey } = scenario.collector;
    scenario.site.page(
      '/first',
      `<!doctype html><title>First</title><script src="/kimlik.js"></script><script>
window.calledAt = Date.now(); kimlik.track('Before init');
history.pushState({}, '', '/second'); document.title = 'Second';
setTimeout(() => kimlik.init({ writeKey: '${writeKey}', autoPage: false }), 1000);</script>`,
    );
    const page = await scenario.browser.newPage();
    await page.goto(`${scenario.site.url}/first`);
    const calledAt = await page.evaluate(() => (window as unknown as { calledAt: number }).calledAt);
    const [event] = await scenario.waitStored(1);
    expect(Date.parse(String(event?.originalTimestamp ?? event?.timestamp)) - calledAt).toBeLessThan(100);
    expect((event?.context as { page: Record<string, string> } | undefined)?.page).toMatchObject({
      path: '/first',
      title: 'First',
    });
  });
});
