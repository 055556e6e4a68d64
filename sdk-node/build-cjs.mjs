// CommonJS build for `require('@kimlik/node')`: tsc emits the ESM dist/, rollup turns it into one
// dist/index.cjs with @kimlik/core inlined (core is ESM-only, and require(esm) is still
// experimental on Node 20). undici and node: built-ins stay external.
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { rollup } from 'rollup';

const here = (p) => fileURLToPath(new URL(p, import.meta.url));
const core = here('../core/dist/index.js');

const bundle = await rollup({
  input: here('dist/index.js'),
  external: (id) => id === 'undici' || id.startsWith('node:'),
  plugins: [{ name: 'kimlik-core', resolveId: (id) => (id === '@kimlik/core' ? core : null) }],
  onwarn(warning, warn) {
    if (warning.code !== 'CIRCULAR_DEPENDENCY') warn(warning);
  },
});
await bundle.write({ file: here('dist/index.cjs'), format: 'cjs', sourcemap: true, exports: 'named' });
await bundle.close();
// Types for `require`: the same declarations, re-exported from a .d.cts entry.
writeFileSync(here('dist/index.d.cts'), "export * from './index.js';\n");
