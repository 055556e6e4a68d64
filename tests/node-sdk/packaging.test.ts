import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCollector, type TestCollector } from '../helpers/collector.js';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../..', import.meta.url));
const sdk = (p: string) => fileURLToPath(new URL(`../../sdk-node/${p}`, import.meta.url));

describe('@kimlik/node works from import and require, with types', () => {
  let collector: TestCollector;
  beforeAll(async () => {
    // dist/ comes from `tsc -b` (npm test runs it first); the CommonJS bundle is built from it here.
    execFileSync(process.execPath, [sdk('build-cjs.mjs')], { cwd: root, stdio: 'inherit' });
    collector = await startTestCollector();
  });
  afterAll(async () => {
    await collector?.close();
  });

  const script = (load: string, label: string) => `
    ${load}
    const client = new Kimlik({ writeKey: ${JSON.stringify('wk_test_write_key')}, endpoint: process.argv[1] });
    client.track({ userId: 'u-pkg', event: ${JSON.stringify(label)} });
    client.shutdown({ timeoutMs: 5000 }).then((r) => console.log(JSON.stringify(r)));`;

  it('require() and import both deliver', async () => {
    // Async: the collector runs in this process and must keep answering meanwhile.
    const cjs = await run(
      process.execPath,
      ['-e', script("const { Kimlik } = require('@kimlik/node');", 'from-require'), collector.url],
      { cwd: root, encoding: 'utf8' },
    );
    const esm = await run(
      process.execPath,
      ['--input-type=module', '-e', script("import { Kimlik } from '@kimlik/node';", 'from-import'), collector.url],
      { cwd: root, encoding: 'utf8' },
    );
    for (const { stdout: out } of [cjs, esm])
      expect(JSON.parse(out)).toEqual({ timedOut: false, spooled: 0, dropped: 0 });
    const stored = (await collector.storedEvents()).filter((e) => e.userId === 'u-pkg');
    expect(stored.map((e) => e.event).sort()).toEqual(['from-import', 'from-require']);
  });

  it('ships declarations for both entry points and keeps the library version in step', () => {
    const pkg = JSON.parse(readFileSync(sdk('package.json'), 'utf8')) as {
      version: string;
      exports: Record<string, Record<string, { types: string; default: string }>>;
    };
    for (const condition of ['import', 'require'] as const) {
      const entry = pkg.exports['.']?.[condition];
      expect(entry && existsSync(sdk(entry.types)) && existsSync(sdk(entry.default))).toBe(true);
    }
    expect(readFileSync(sdk('src/library.ts'), 'utf8')).toContain(`version: '${pkg.version}'`);
  });
});
