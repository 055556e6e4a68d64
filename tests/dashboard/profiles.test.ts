import type { Locator, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { hasChromium, launchBrowser, type TestBrowser } from '../helpers/browser.js';
import { sendBatch, startTestCollector, type TestCollector } from '../helpers/collector.js';

/** The profile search and the profile page, in Chromium against a real collector. */

let c: TestCollector;
let browser: TestBrowser;
let page: Page;

const send = (batch: Record<string, unknown>[]) => sendBatch(c, batch);

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

/**
 * Whether `needle` (found in one text node under `root`) is laid out left to right: a bidi
 * control in a value shown before it (U+202E) draws the rest of its line reversed.
 */
const leftToRight = (root: Locator, needle: string) =>
  root.evaluate((el, needle) => {
    const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const start = node.textContent?.indexOf(needle) ?? -1;
      if (start === -1) continue;
      const xs = [...needle].map((_, i) => {
        const range = document.createRange();
        range.setStart(node, start + i);
        range.setEnd(node, start + i + 1);
        return range.getBoundingClientRect().left;
      });
      return xs.every((x, i) => i === 0 || x > (xs[i - 1] as number));
    }
    throw new Error(`"${needle}" is not in ${el.outerHTML.slice(0, 300)}`);
  }, needle);

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

  test('a right-to-left override in a value reverses nothing around it (history, search results, dialog, notice, live debugger)', async () => {
    const rlo = '\u202E';
    await send([
      {
        type: 'identify',
        anonymousId: `rtl-${rlo}device`,
        userId: `rtl-${rlo}admin-user`,
        traits: { email: 'rtl@x.io', plan: `rtl${rlo}plan` },
        timestamp: at(0),
      },
      { type: 'alias', previousId: `old-${rlo}id`, userId: 'rtl-new', timestamp: at(1) },
    ]);
    await expect.poll(async () => (await profileOf('email=rtl%40x.io')).id, { timeout: 10_000 }).toBeTruthy();

    await signIn();
    const alias = page.getByRole('button', { name: /rtl-new/ });
    await alias.waitFor({ timeout: 10_000 });
    expect(await leftToRight(alias, 'rtl-new')).toBe(true);

    await page.goto(`${c.url}/ui#/profiles`);
    await page.getByLabel('Find by').selectOption('trait');
    await page.getByLabel('Trait name').fill('plan');
    await page.getByRole('textbox', { name: 'Value' }).fill(`rtl${rlo}plan`);
    await page.getByRole('button', { name: 'Search' }).click();
    const cell = page.locator('main.profiles tbody td').nth(1);
    await cell.waitFor({ timeout: 10_000 });
    for (const type of ['anonymousId', 'email', 'userId']) expect(await leftToRight(cell, type), type).toBe(true);

    await page.locator('main.profiles tbody a').first().click();
    const merge = page.locator('ol.history li.merge').first();
    await merge.waitFor({ timeout: 10_000 });
    expect(await leftToRight(merge, 'were seen in the same event')).toBe(true);

    await page.getByRole('button', { name: /^Unmerge anonymousId/ }).click();
    const dialog = page.getByRole('dialog');
    expect(await leftToRight(dialog, 'is detached from this profile')).toBe(true);
    await dialog.getByRole('button', { name: 'Unmerge' }).click();
    const notice = page.getByRole('status');
    await notice.waitFor({ timeout: 10_000 });
    expect(await leftToRight(notice, 'was detached')).toBe(true);
  });

  test('Back from a profile opened from trait search results shows the search and its results again, and so does a reload (the form came back empty)', async () => {
    await send([1, 2, 3].map((i) => ({ type: 'identify', userId: `back-${i}`, traits: { cohort: 'back-c' } })));
    await expect
      .poll(async () => (await admin<{ profiles: unknown[] }>('/v1/profiles?trait.cohort=back-c')).profiles.length, {
        timeout: 10_000,
      })
      .toBe(3);
    await signIn();
    await page.getByRole('link', { name: 'Profiles' }).click();
    await page.getByLabel('Find by').selectOption('trait');
    await page.getByLabel('Trait name').fill('cohort');
    await page.getByRole('textbox', { name: 'Value' }).fill('back-c');
    await page.getByRole('button', { name: 'Search' }).click();
    const rows = page.locator('main.profiles tbody tr');
    await expect.poll(() => rows.count(), { timeout: 10_000 }).toBe(3);
    expect(new URL(page.url()).hash).toBe('#/profiles?trait.cohort=back-c');

    await page.locator('main.profiles tbody a').first().click();
    await page.locator('ol.history, section:has-text("nothing was merged")').first().waitFor({ timeout: 10_000 });
    await page.goBack();
    await expect.poll(() => rows.count(), { timeout: 10_000 }).toBe(3);
    expect(await page.getByLabel('Find by').inputValue()).toBe('trait');
    expect(await page.getByLabel('Trait name').inputValue()).toBe('cohort');
    expect(await page.getByRole('textbox', { name: 'Value' }).inputValue()).toBe('back-c');

    await page.reload();
    await expect.poll(() => rows.count(), { timeout: 10_000 }).toBe(3);

    // A lookup by identifier opens the profile; Back shows the lookup and the profile it found.
    await page.getByLabel('Find by').selectOption('userId');
    await page.getByRole('textbox', { name: 'User ID' }).fill('back-2');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByRole('button', { name: 'Delete profile' }).waitFor({ timeout: 10_000 });
    await page.goBack();
    await expect.poll(() => rows.count(), { timeout: 10_000 }).toBe(1);
    expect(await rows.textContent()).toContain('back-2');
    expect(await page.getByRole('textbox', { name: 'User ID' }).inputValue()).toBe('back-2');
  });

  test('the timeline counts every device of the profile, not only those of the events loaded so far (it said 20 of 30)', async () => {
    const batch = [];
    for (let d = 0; d < 30; d++) {
      batch.push({ type: 'identify', anonymousId: `many-${d}`, userId: 'many-devices', timestamp: at(d) });
      for (let k = 0; k < 9; k++) {
        batch.push({ type: 'track', anonymousId: `many-${d}`, event: `E${k}`, timestamp: at(d + k / 60) });
      }
    }
    await send(batch);
    await expect
      .poll(
        async () => (await profileOf('userId=many-devices')).identifiers.filter((i) => i.type === 'anonymousId').length,
        { timeout: 10_000 },
      )
      .toBe(30);
    await openProfile((await profileOf('userId=many-devices')).id);
    expect(await page.getByRole('heading', { name: /^Timeline/ }).textContent()).toContain('30 devices');
  });
});
