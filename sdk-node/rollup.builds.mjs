// CommonJS build for `require('@kimlik/node')`: tsc emits the ESM dist/, rollup turns it into one
// dist/index.cjs with @kimlik/core inlined (core is ESM-only, and require(esm) is still
// experimental on Node 20). node: built-ins stay external. Part of the root
// `npm run build` (rollup.config.mjs) and of `node sdk-node/build-cjs.mjs`.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = (p) => fileURLToPath(new URL(p, import.meta.url));

/** Paths of the `.d.ts` files under `dir`, relative to it. */
const declarations = (dir) =>
  readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.d.ts'));

/**
 * CommonJS declarations: a `.d.cts` copy of every declaration of this package and of core (which
 * the bundle inlines). A `.d.cts` that re-exported the ESM `.d.ts` files fails in CommonJS
 * TypeScript projects (TS1479: an ES module cannot be `require`d), so the copies point at each
 * other: `./x.js` becomes `./x.cjs` and `@kimlik/core` the copied core.
 */
function cjsDeclarations() {
  const files = [];
  for (const [from, to] of [
    [here('dist'), 'cjs'],
    [here('../core/dist'), 'cjs/core'],
  ]) {
    for (const file of declarations(from)) {
      const fileName = join(to, file).replace(/\.d\.ts$/, '.d.cts');
      const core = relative(dirname(fileName), 'cjs/core/index.cjs');
      const source = readFileSync(join(from, file), 'utf8')
        .replace(/^\/\/# sourceMappingURL=.*$/m, '')
        .replace(/(['"])(\.{1,2}\/[^'"]*)\.js\1/g, '$1$2.cjs$1')
        .replace(/(['"])@kimlik\/core\1/g, `$1${core.startsWith('.') ? core : `./${core}`}$1`);
      files.push({ fileName, source });
    }
  }
  return files;
}

export default [
  {
    input: here('dist/index.js'),
    external: (id) => id.startsWith('node:'),
    plugins: [
      {
        name: 'kimlik-node-cjs',
        resolveId: (id) => (id === '@kimlik/core' ? here('../core/dist/index.js') : null),
        generateBundle() {
          for (const { fileName, source } of cjsDeclarations()) this.emitFile({ type: 'asset', fileName, source });
          this.emitFile({ type: 'asset', fileName: 'index.d.cts', source: "export * from './cjs/index.cjs';\n" });
        },
      },
    ],
    output: { file: here('dist/index.cjs'), format: 'cjs', sourcemap: true, exports: 'named' },
  },
];
