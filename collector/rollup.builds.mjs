// The dashboard's bundle, collected by the root rollup.config.mjs. tsc (collector/src/ui/tsconfig.json)
// compiles the TSX to dist/ui-js/ first; rollup bundles it with Preact into one minified ES module in
// dist/ui/, beside the style sheet. Served by src/routes/ui.ts at /ui: nothing comes from a CDN.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import nodeResolve from '@rollup/plugin-node-resolve';
import terser from '@rollup/plugin-terser';

const here = (p) => fileURLToPath(new URL(p, import.meta.url));

export default [
  {
    input: here('dist/ui-js/main.js'),
    plugins: [
      nodeResolve({ browser: true }),
      {
        name: 'kimlik-ui-styles',
        buildStart() {
          this.addWatchFile(here('src/ui/styles.css'));
        },
        generateBundle() {
          this.emitFile({
            type: 'asset',
            fileName: 'styles.css',
            source: readFileSync(here('src/ui/styles.css'), 'utf8'),
          });
        },
      },
    ],
    output: {
      dir: here('dist/ui'),
      entryFileNames: 'app.js',
      format: 'es',
      sourcemap: true,
      plugins: [terser({ ecma: 2020, module: true, format: { comments: false } })],
    },
  },
];
