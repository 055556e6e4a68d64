import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
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

  // Consumers type-check against the published declarations with their own settings: a CommonJS
  // project resolves `require` types, an ESM one `import` types (skipLibCheck off, so the
  // declarations themselves are checked).
  it.each([
    ['CommonJS', {}, 'node16'],
    ['ESM', { type: 'module' }, 'nodenext'],
  ])('type-checks in a %s TypeScript project', async (_, pkgFields, module) => {
    const dir = mkdtempSync(join(tmpdir(), 'kimlik-ts-consumer-'));
    try {
      for (const [name, target] of [
        ['@kimlik/node', sdk('.')],
        ['@kimlik/core', fileURLToPath(new URL('../../core', import.meta.url))],
        ['@types/node', join(root, 'node_modules/@types/node')],
      ] as const) {
        mkdirSync(dirname(join(dir, 'node_modules', name)), { recursive: true });
        symlinkSync(target, join(dir, 'node_modules', name));
      }
      writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', private: true, ...pkgFields }));
      writeFileSync(
        join(dir, 'tsconfig.json'),
        JSON.stringify({
          compilerOptions: { module, strict: true, skipLibCheck: false, noEmit: true, types: ['node'] },
          files: ['index.ts'],
        }),
      );
      writeFileSync(
        join(dir, 'index.ts'),
        `import { DeliveryError, Kimlik, type KimlikOptions } from '@kimlik/node';
const options: KimlikOptions = { writeKey: 'wk', endpoint: 'http://127.0.0.1:1' };
const client = new Kimlik(options);
client.track({ userId: 'u1', event: 'Signed Up', properties: { plan: 'pro' } });
export const done: Promise<unknown> = client.shutdown().catch((e: unknown) => e instanceof DeliveryError);
// @ts-expect-error: an event needs a name
client.track({ userId: 'u1' });
`,
      );
      const tsc = join(root, 'node_modules/typescript/bin/tsc');
      const result = await run(process.execPath, [tsc, '-p', dir], { encoding: 'utf8' }).catch((e) => e);
      expect(`${result.stdout}${result.stderr ?? ''}`).toBe('');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
