import type { Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { hasChromium, launchBrowser, type TestBrowser } from '../helpers/browser.js';
import { startTestCollector, type TestCollector } from '../helpers/collector.js';

/** The profile search and the profile page, in Chromium against a real collector. */

let c: TestCollector;
let browser: TestBrowser;
let page: Page;

const send = async (batch: unknown[]) => {
  const res = await fetch(`${c.url}/v1/batch`, {
    method: 'POST',
    headers: { authorization: `Basic ${btoa(`${c.writeKey}:`)}`, 'content-type': 'application/json' },
    body: JSON.stringify({ batch }),
  });
  expect(res.status).toBe(200);
};

const admin = async <T>(path: string, init: { method?: string; body?: unknown } = {}): Promise<T> => {
  const res = await fetch(`${c.url}${path}`, {
    method: init.method ?? 'GET',
    headers: {
      authorization: `Bearer ${c.adminKey}`,
      ...(init.body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
  expect(res.status, `${path} answered ${res.status}`).toBeLessThan(300);
  return (await res.json()) as T;
};

type Profile = { id: string; identifiers: { type: string; value: string }[] };
const profileOf = (query: string) => admin<Profile>(`/v1/profiles?${query}`);

const at = (minutes: number) => new Date(Date.now() - 60 * 60_000 + minutes * 60_000).toISOString();

async function signIn(): Promise<void> {
  page = await browser.newPage();
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.goto(`${c.url}/ui`);
  await page.getByLabel('Admin key').fill(c.adminKey);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('navigation').waitFor();
}

async function openProfile(id: string): Promise<void> {
  await signIn();
  await page.goto(`${c.url}/ui#/profiles/${encodeURIComponent(id)}`);
  await page.locator('ol.history, section:has-text("nothing was merged")').first().waitFor({ timeout: 10_000 });
}

describe.skipIf(!hasChromium)('profiles in the dashboard (needs /usr/bin/chromium and `npm run build`)', () => {
  beforeAll(async () => {
    c = await startTestCollector();
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await c?.close();
  });
  afterEach(async () => {
    expect(browser.pageErrors).toEqual([]);
    await page?.close();
  });

  test('an unmerge shows what it undid: the merge that brought the device in and the traits it changed (it said only "1 links cut")', async () => {
    await send([
      {
        type: 'identify',
        anonymousId: 'tv-laptop',
        userId: 'tv-user',
        traits: { email: 'tv@x.io', plan: 'basic' },
        timestamp: at(0),
      },
      { type: 'identify', anonymousId: 'tv', traits: { plan: 'enterprise', tvbrand: 'Acme' }, timestamp: at(10) },
      { type: 'identify', anonymousId: 'tv', userId: 'tv-user', timestamp: at(20) },
    ]);
    const { id } = await profileOf('userId=tv-user');
    await expect.poll(async () => (await profileOf('anonymousId=tv')).id, { timeout: 10_000 }).toBe(id);
    await admin(`/v1/profiles/${id}/unmerge`, { method: 'POST', body: { type: 'anonymousId', value: 'tv' } });
    const { id: left } = await profileOf('userId=tv-user');
    await openProfile(left);
    const line = page.locator('ol.history li.unmerge');
    const text = (await line.textContent()) ?? '';
    expect(text).toContain('anonymousId:tv was unmerged by an admin');
    // The undone merge, explained as the history explains merges.
    expect(text).toMatch(/anonymousId:tv.*were seen in the same event/s);
    // The trait changes, with "removed" for a key that went away.
    const traits = await line.locator('.undone-traits li').allTextContents();
    expect(traits.some((t) => /plan/.test(t) && /enterprise/.test(t) && /basic/.test(t))).toBe(true);
    expect(traits.some((t) => /tvbrand/.test(t) && /Acme/.test(t) && /removed/.test(t))).toBe(true);
  });
});
