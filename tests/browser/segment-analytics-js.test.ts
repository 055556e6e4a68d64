// Segment's own browser library (analytics.js 2.0, @segment/analytics-next), unmodified, sending
// to the collector on another origin: a site migrating from Segment changes only the API host.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { hasChromium } from '../helpers/browser.js';
import { closeScenarioAfterEach, type Scenario, startScenario } from '../helpers/browser-scenario.js';

const require = createRequire(import.meta.url);
// The UMD build defines window.AnalyticsNext; inlined, so no CDN is involved.
const analyticsJs = () =>
  readFileSync(
    join(dirname(require.resolve('@segment/analytics-next/package.json')), 'dist/umd/index.js'),
    'utf8',
  ).replaceAll('</script', '<\\/script');

let scenario: Scenario | undefined;
closeScenarioAfterEach(() => scenario);

/** `inline` null: settings fetched from the collector (only `cdnURL` changed); otherwise given inline. */
function page(collectorUrl: string, writeKey: string, inline: Record<string, unknown> | null): string {
  const apiHost = `${new URL(collectorUrl).host}/v1`;
  const segmentIo = { apiKey: writeKey, apiHost, protocol: 'http', ...inline };
  const settings = inline ? { cdnSettings: { integrations: { 'Segment.io': segmentIo } } } : { cdnURL: collectorUrl };
  return `<!doctype html><title>analytics.js</title><script>${analyticsJs()}</script><script>
window.done = (async () => {
  const [analytics] = await AnalyticsNext.AnalyticsBrowser.load({
    writeKey: ${JSON.stringify(writeKey)},
    ...${JSON.stringify(settings)},
  });
  await analytics.page('Home');
  await analytics.identify('ada', { email: 'Ada@Example.com', plan: 'pro' });
  await analytics.track('Order Completed', { total: 42 });
  await analytics.group('acme', { name: 'Acme' });
  await analytics.alias('ada', 'ada-old-device');
  return analytics.user().anonymousId();
})();
</script>`;
}

describe.skipIf(!hasChromium)(
  'Segment analytics.js → collector (needs /usr/bin/chromium)',
  { timeout: 120_000 },
  () => {
    test.each([
      ['only cdnURL set to the collector (settings from /v1/projects/{writeKey}/settings)', null],
      ['settings inline, one request per call (/v1/p, /v1/i, /v1/t …)', {}],
      [
        'settings inline, batching delivery (/v1/b)',
        { deliveryStrategy: { strategy: 'batching', config: { size: 3, timeout: 200 } } },
      ],
    ])('%s: every call stored once and stitched into one profile', async (_name, inline) => {
      scenario = await startScenario({});
      const { collector } = scenario;
      scenario.site.page('/', page(collector.url, collector.writeKey, inline));
      const tab = await scenario.browser.newPage();
      await tab.goto(`${scenario.site.url}/`);
      // Rethrown with our own stack: the page's (URLs of the test site) trips vitest's source maps.
      const anonymousId = (await tab.evaluate('window.done').catch((e: Error) => {
        throw new Error(`analytics.js failed in the page: ${e.message.split('\n')[0]}`);
      })) as string;
      const events = await scenario.waitStored(5);
      expect(events.map((e) => e.type).sort()).toEqual(['alias', 'group', 'identify', 'page', 'track']);
      expect(new Set(events.map((e) => e.messageId)).size).toBe(5);
      expect(events.every((e) => (e.context as { library: { name: string } }).library.name === 'analytics.js')).toBe(
        true,
      );
      const res = await fetch(`${collector.url}/v1/profiles?email=ada%40example.com`, {
        headers: { authorization: `Bearer ${collector.adminKey}` },
      });
      const profile = (await res.json()) as { identifiers: { type: string; value: string }[]; eventCount: number };
      expect(profile.identifiers.map((i) => `${i.type}:${i.value}`).sort()).toEqual(
        ['anonymousId:ada-old-device', `anonymousId:${anonymousId}`, 'email:ada@example.com', 'userId:ada'].sort(),
      );
      expect(profile.eventCount).toBe(5);
    });
  },
);
