import { nodeResolve } from '@rollup/plugin-node-resolve';
import { rollup } from 'rollup';
import { describe, expect, test } from 'vitest';
import { hasChromium } from '../helpers/browser.js';
import { closeScenarioAfterEach, type Scenario, startScenario } from '../helpers/browser-scenario.js';

let scenario: Scenario | undefined;
closeScenarioAfterEach(() => scenario);

/** An app bundled the way a site using `npm install @kimlik/web` would bundle it. */
async function bundleApp(endpoint: string, writeKey: string): Promise<string> {
  const id = '\0app';
  const entry = `import { init, track, identify, user, ready } from '@kimlik/web';
init({ writeKey: ${JSON.stringify(writeKey)}, endpoint: ${JSON.stringify(endpoint)}, autoPage: false });
identify('esm-user', { email: 'esm@example.com' });
track('Bundled', { n: 1 });
ready().then(() => { window.esmUser = user(); });`;
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
    const app = await bundleApp(scenario.collector.url, scenario.collector.writeKey);
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
});
