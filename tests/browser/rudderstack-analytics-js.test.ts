// RudderStack's browser SDK v3 (@rudderstack/analytics-js), unmodified, sending to the collector on
// another origin: a site migrating from RudderStack points dataPlaneUrl and configUrl at it.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { hasChromium } from '../helpers/browser.js';
import { closeScenarioAfterEach, type Scenario, startScenario } from '../helpers/browser-scenario.js';

const require = createRequire(import.meta.url);
// The bundled UMD build (its plugins included, so nothing is loaded from RudderStack's CDN) defines
// window.rudderanalytics; inlined into the page. Found beside the CommonJS entry (dist/npm/modern/cjs):
// the package exports no package.json.
const rudderJs = () =>
  readFileSync(
    join(dirname(require.resolve('@rudderstack/analytics-js')), '../bundled/umd/index.js'),
    'utf8',
  ).replaceAll('</script', '<\\/script');

let scenario: Scenario | undefined;
closeScenarioAfterEach(() => scenario);

function page(collectorUrl: string, writeKey: string, options: Record<string, unknown>): string {
  return `<!doctype html><title>RudderStack</title><script>${rudderJs()}</script><script>
window.ra = new rudderanalytics.RudderAnalytics();
ra.load(${JSON.stringify(writeKey)}, ${JSON.stringify(collectorUrl)}, {
  configUrl: ${JSON.stringify(collectorUrl)},
  logLevel: 'ERROR',
  onLoaded: () => { window.rsLoaded = true; },
  ...${JSON.stringify(options)},
});
ra.identify('rs-ada', { email: 'Ada@Example.com', plan: 'pro' });
ra.track('Order Completed', { total: 42 });
ra.page('Shop', 'Home');
ra.group('acme', { name: 'Acme' });
ra.alias('rs-ada', 'rs-ada-old-device');
</script>`;
}

describe.skipIf(!hasChromium)(
  'RudderStack analytics-js v3 → collector (needs /usr/bin/chromium)',
  { timeout: 120_000 },
  () => {
    test.each([
      {
        name: 'source config from the collector (GET /sourceConfig/), XHR delivery (POST /v1/<type>)',
        options: {},
        sentTo: /^\/v1\/(identify|track|page|group|alias)$/,
      },
      {
        name: 'source config from the collector, useBeacon: true (POST /beacon/v1/batch?writeKey=…)',
        options: { useBeacon: true, beaconQueueOptions: { flushQueueInterval: 200 } },
        sentTo: /^\/beacon\/v1\/batch$/,
      },
    ])('$name: every call stored once, one profile with the identify traits', async ({ options, sentTo }) => {
      scenario = await startScenario({});
      const { collector } = scenario;
      scenario.site.page('/', page(collector.url, collector.writeKey, options));
      const tab = await scenario.browser.newPage();
      const sent: string[] = [];
      // Requests, not responses: the collector can have stored the events (and the test read them)
      // before the browser reports the response.
      tab.on('request', (r) => {
        const url = new URL(r.url());
        if (url.origin === collector.url && r.method() === 'POST') sent.push(url.pathname);
      });
      await tab.goto(`${scenario.site.url}/`);
      // Without a source config the SDK never loads and sends nothing.
      await tab.waitForFunction(() => (window as { rsLoaded?: boolean }).rsLoaded === true, undefined, {
        timeout: 20_000,
      });
      const events = await scenario.waitStored(5);
      expect(events.map((e) => e.type).sort()).toEqual(['alias', 'group', 'identify', 'page', 'track']);
      expect(new Set(events.map((e) => e.messageId)).size).toBe(5);
      expect(sent.length).toBeGreaterThan(0);
      for (const path of sent) expect(path).toMatch(sentTo);
      const anonymousId = (await tab.evaluate('ra.getAnonymousId()')) as string;
      const res = await fetch(`${collector.url}/v1/profiles?email=ada%40example.com`, {
        headers: { authorization: `Bearer ${collector.adminKey}` },
      });
      const profile = (await res.json()) as {
        identifiers: { type: string; value: string }[];
        traits: Record<string, unknown>;
        eventCount: number;
      };
      expect(profile.identifiers.map((i) => `${i.type}:${i.value}`).sort()).toEqual(
        [
          'anonymousId:rs-ada-old-device',
          `anonymousId:${anonymousId}`,
          'email:ada@example.com',
          'userId:rs-ada',
        ].sort(),
      );
      // The SDK sends identify traits in context.traits only.
      expect(profile.traits).toMatchObject({ email: 'Ada@Example.com', plan: 'pro' });
      expect(profile.eventCount).toBe(5);
    });
  },
);
