// `npm run size`: raw, gzip and brotli bytes of the SDK's builds, beside the incumbents measured the
// same way in the same run. Each peer is bundled from a minimal entry that imports and initialises
// it (rollup + node-resolve + commonjs + terser, like the script-tag IIFE), then compressed with
// node:zlib at maximum level. Bounded: five rollup builds, a few seconds each.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import commonjs from '@rollup/plugin-commonjs';
import json from '@rollup/plugin-json';
import nodeResolve from '@rollup/plugin-node-resolve';
import replace from '@rollup/plugin-replace';
import terser from '@rollup/plugin-terser';
import { rollup } from 'rollup';

const here = (p) => fileURLToPath(new URL(p, import.meta.url));
/** CI's ceiling (sdk-web/src/size.test.ts) and the 6 KB target; see the file's "why". */
const budget = JSON.parse(readFileSync(here('../size-budget.json'), 'utf8'));

export function measure(code) {
  const buf = Buffer.from(code);
  return {
    raw: buf.length,
    gzip: gzipSync(buf, { level: 9 }).length,
    brotli: brotliCompressSync(buf, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }).length,
  };
}

/** Our ESM build measured exactly like the peers, for a like-for-like row. */
const OURS = `import { init, track } from '@kimlik/web';
init({ writeKey: 'wk', endpoint: 'https://example.com' }); track('x');`;

const PEERS = [
  {
    name: '@segment/analytics-next',
    entry: `import { AnalyticsBrowser } from '@segment/analytics-next';
window.a = AnalyticsBrowser.load({ writeKey: 'wk' }); window.a.track('x');`,
  },
  {
    name: 'posthog-js',
    entry: `import posthog from 'posthog-js';
posthog.init('phc_key', { api_host: 'https://example.com' }); posthog.capture('x');`,
  },
  {
    name: '@amplitude/analytics-browser',
    entry: `import * as amplitude from '@amplitude/analytics-browser';
amplitude.init('key'); amplitude.track('x');`,
  },
  {
    name: '@rudderstack/analytics-js',
    entry: `import { RudderAnalytics } from '@rudderstack/analytics-js';
const r = new RudderAnalytics(); r.load('wk', 'https://example.com'); r.track('x');`,
  },
];

async function bundlePeer(entry) {
  const id = '\0peer-entry';
  const bundle = await rollup({
    input: id,
    onwarn: () => undefined,
    plugins: [
      { name: 'entry', resolveId: (s) => (s === id ? id : null), load: (s) => (s === id ? entry : null) },
      replace({ preventAssignment: true, values: { 'process.env.NODE_ENV': JSON.stringify('production') } }),
      nodeResolve({ browser: true, rootDir: here('..') }),
      commonjs(),
      json(),
    ],
  });
  const { output } = await bundle.generate({
    format: 'iife',
    inlineDynamicImports: true,
    plugins: [terser({ ecma: 2020, compress: { passes: 2 }, format: { comments: false } })],
  });
  await bundle.close();
  return output[0].code;
}

// Workspaces hoist devDependencies to the root node_modules.
const version = (name) => JSON.parse(readFileSync(here(`../../node_modules/${name}/package.json`), 'utf8')).version;

const rows = [];
for (const [label, file] of [
  ['@kimlik/web IIFE (kimlik.min.js)', '../dist/kimlik.min.js'],
  ['@kimlik/web ESM file (kimlik.mjs, core external, unminified)', '../dist/kimlik.mjs'],
]) {
  rows.push({ package: label, ...measure(readFileSync(here(file))) });
}
const withPeers = !process.argv.includes('--ours');
if (withPeers) {
  rows.push({ package: '@kimlik/web ESM (bundled entry, as the peers)', ...measure(await bundlePeer(OURS)) });
  for (const peer of PEERS) {
    const code = await bundlePeer(peer.entry);
    rows.push({ package: `${peer.name}@${version(peer.name)} (bundled entry)`, ...measure(code) });
  }
}
// Bytes, and KiB for reading at a glance.
const cell = (n) => `${n} B (${(n / 1024).toFixed(1)} KiB)`.padStart(20);
const w = Math.max(...rows.map((r) => r.package.length));
console.log(`${'package'.padEnd(w)}  ${'raw'.padStart(20)}  ${'gzip'.padStart(20)}  ${'brotli'.padStart(20)}`);
for (const r of rows) console.log(`${r.package.padEnd(w)}  ${cell(r.raw)}  ${cell(r.gzip)}  ${cell(r.brotli)}`);
const { gzip } = rows[0];
const verdict = (limit) => (gzip <= limit ? 'within' : `OVER by ${gzip - limit} B`);
console.log(`\nIIFE gzip ${gzip} B; CI budget ${budget.iifeGzipBytes} B: ${verdict(budget.iifeGzipBytes)}`);
console.log(`issue target ${budget.issueTargetGzipBytes} B: ${verdict(budget.issueTargetGzipBytes)}`);
if (gzip > budget.iifeGzipBytes) process.exitCode = 1;
