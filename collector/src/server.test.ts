import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it, vi } from 'vitest';
import { startCollector } from './server.js';

const dirs: string[] = [];
afterEach(() => {
  vi.restoreAllMocks();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** What a first start prints (the keys are generated, so the banner is shown). */
async function banner(demo: string): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'kimlik-banner-'));
  dirs.push(dir);
  let out = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out += String(chunk);
    return true;
  });
  const collector = await startCollector({
    PORT: '0',
    HOST: '127.0.0.1',
    KIMLIK_DATABASE: join(dir, 'k.db'),
    KIMLIK_DEMO: demo,
    KIMLIK_LOG_LEVEL: 'silent',
  });
  vi.restoreAllMocks();
  await collector.close();
  return out;
}

it('the first-start banner links the demo page only when the demo is on', async () => {
  expect(await banner('true')).toMatch(/Demo page: http:\/\/localhost:\d+\//);
  const off = await banner('false');
  expect(off).toMatch(/write key/);
  expect(off).not.toMatch(/Demo page/);
});
