import { existsSync } from 'node:fs';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { tempDir } from './collector.js';

/** Debian's Chromium; playwright-core drives it (no browser download is possible or wanted). */
export const CHROMIUM = process.env.KIMLIK_CHROMIUM ?? '/usr/bin/chromium';
export const hasChromium = existsSync(CHROMIUM);
// In CI nothing is skipped: a missing browser fails every suite that needs it.
if (!hasChromium && process.env.CI) {
  throw new Error(`CI needs ${CHROMIUM}: .ci/run installs Debian's chromium package`);
}

const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export interface TestBrowser {
  context: BrowserContext;
  /** Errors thrown into any page (uncaught exceptions), for "no page error" assertions. */
  pageErrors: Error[];
  newPage(): Promise<Page>;
  close(): Promise<void>;
}

export interface LaunchOptions {
  /**
   * Keeps Chromium's back/forward cache on: Playwright launches with --disable-back-forward-cache
   * unless told otherwise, so Back always reloads the page.
   */
  bfcache?: boolean;
}

/**
 * A persistent Chromium profile in a temp dir, so IndexedDB, localStorage and cookies survive
 * reloads and navigations like they do for a real visitor. `extraArgs` e.g. map host names to
 * 127.0.0.1 (`--host-resolver-rules`) for cookie-domain tests.
 */
export async function launchBrowser(extraArgs: string[] = [], options: LaunchOptions = {}): Promise<TestBrowser> {
  const dir = tempDir('kimlik-chromium-');
  const context = await chromium.launchPersistentContext(dir.path, {
    executablePath: CHROMIUM,
    headless: true,
    args: [...ARGS, ...extraArgs],
    ignoreDefaultArgs: options.bfcache ? ['--disable-back-forward-cache'] : undefined,
  });
  const pageErrors: Error[] = [];
  const watch = (page: Page) => page.on('pageerror', (error) => pageErrors.push(error));
  context.on('page', watch);
  for (const page of context.pages()) watch(page);
  return {
    context,
    pageErrors,
    newPage: () => context.newPage(),
    async close() {
      await context.close();
      dir.remove();
    },
  };
}

/** Polls `check` until it returns true or `timeoutMs` passes; the last value is returned. */
export async function waitFor(check: () => Promise<boolean> | boolean, timeoutMs = 45_000, everyMs = 100) {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > until) return false;
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
