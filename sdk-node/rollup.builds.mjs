// CommonJS build for `require('@kimlik/node')`: tsc emits the ESM dist/, rollup turns it into one
// dist/index.cjs with @kimlik/core inlined (core is ESM-only, and require(esm) is still
// experimental on Node 20). node: built-ins stay external. Part of the root
// `npm run build` (rollup.config.mjs) and of `node sdk-node/build-cjs.mjs`.
import { fileURLToPath } from 'node:url';

const here = (p) => fileURLToPath(new URL(p, import.meta.url));

export default [
  {
    input: here('dist/index.js'),
    external: (id) => id.startsWith('node:'),
    plugins: [
      {
        name: 'kimlik-node-cjs',
        resolveId: (id) => (id === '@kimlik/core' ? here('../core/dist/index.js') : null),
        generateBundle() {
          // Types for `require`: the same declarations, re-exported from a .d.cts entry.
          this.emitFile({ type: 'asset', fileName: 'index.d.cts', source: "export * from './index.js';\n" });
        },
      },
    ],
    output: { file: here('dist/index.cjs'), format: 'cjs', sourcemap: true, exports: 'named' },
  },
];
