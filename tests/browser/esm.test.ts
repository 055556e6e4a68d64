import { nodeResolve } from '@rollup/plugin-node-resolve';
import { rollup } from 'rollup';
import { describe, expect, test } from 'vitest';
import { hasChromium } from '../helpers/browser.js';
import { closeScenarioAfterEach, type Scenario, startScenario } from '../helpers/browser-scenario.js';

let scenario: Scenario | undefined;
closeScenarioAfterEach(() => scenario);

/** `entry` bundled the way a site using `npm install @kimlik/web` would bundle it. */
async function bundleApp(entry: string): Promise<string> {
  const id = '\0app';
  const bundle = await rollup({
    input: id,
    plugins: [
      { name: 'app', resolveId: (s) => (s === id ? id : null), load: (s) => (s === id ? entry : null) },
      nodeResolve({ browser: true }),
    ],
  });
  const { output } = await bundle.generate({ format: 'iife' });
  await bundle.close();
  return output[0].code;
}

describe.skipIf(!hasChromium)('ESM build in an app bundle (needs /usr/bin/chromium)', { timeout: 120_000 }, () => {
  test('import { init, track } from "@kimlik/web" works once bundled', async () => {
    scenario = await startScenario({});
    const { url, writeKey } = scenario.collector;
    const app = await bundleApp(`import { init, track, identify, user, ready } from '@kimlik/web';
init({ writeKey: ${JSON.stringify(writeKey)}, endpoint: ${JSON.stringify(url)}, autoPage: false });
identify('esm-user', { email: 'esm@example.com' });
track('Bundled', { n: 1 });
ready().then(() => { window.esmUser = user(); });`);
    scenario.site.page('/', `<!doctype html><title>esm</title><script>${app}</script>`);
    const page = await scenario.browser.newPage();
    await page.goto(`${scenario.site.url}/`);
    const events = await scenario.waitStored(2);
    expect(events.map((e) => e.type)).toEqual(['identify', 'track']);
    expect(events[1]).toMatchObject({ userId: 'esm-user', event: 'Bundled' });
    expect((events[1]?.context as { library: { version: string } } | undefined)?.library.version).toMatch(
      /^\d+\.\d+\.\d+/,
    );
    await page.waitForFunction(() => 'esmUser' in window);
  });

  test('an npm init() on a page with the script tag (one storagePrefix) is reported and its calls go to the first instance: one identity, one page view', async () => {
    scenario = await startScenario({});
    const { writeKey } = scenario.collector;
    const app = await bundleApp(`import { init, identify, track, user } from '@kimlik/web';
window.errors = [];
init({ writeKey: ${JSON.stringify(writeKey)}, onError: (e) => window.errors.push(e.code + ' ' + e.message) });
identify('u-1', { plan: 'pro' });
window.kimlik.identify({ theme: 'dark' });
track('Sentinel');
window.appUser = user();`);
    scenario.site.page(
      '/',
      `<!doctype html><title>both</title><script src="/kimlik.js" data-write-key="${writeKey}" data-flush-interval-ms="100"></script><script>${app}</script>`,
    );
    const page = await scenario.browser.newPage();
    await page.goto(`${scenario.site.url}/`);
    const events = await scenario.waitStored(4);
    expect(events.map((e) => e.event ?? e.type)).toEqual(['page', 'identify', 'identify', 'Sentinel']);
    expect(events.slice(1).map((e) => e.userId)).toEqual(['u-1', 'u-1', 'u-1']);
    const { appUser, tagUser, errors } = await page.evaluate(() => {
      const w = window as unknown as { appUser: unknown; errors: string[] };
      return { appUser: w.appUser, tagUser: window.kimlik.user(), errors: w.errors };
    });
    expect(appUser).toEqual(tagUser);
    expect(tagUser).toMatchObject({ userId: 'u-1', traits: { plan: 'pro', theme: 'dark' } });
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/^KIMLIK_INVALID_OPTION .*storagePrefix.*'kimlik'/);
  });
});
