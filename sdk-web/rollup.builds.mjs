// The browser SDK's builds, collected by the root rollup.config.mjs. Both start from tsc's output in
// dist/ (so `tsc -b` runs first and rollup needs no TypeScript plugin).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import nodeResolve from '@rollup/plugin-node-resolve';
import replace from '@rollup/plugin-replace';
import terser from '@rollup/plugin-terser';

const here = (p) => fileURLToPath(new URL(p, import.meta.url));
const { version } = JSON.parse(readFileSync(here('./package.json'), 'utf8'));
const version$ = () => replace({ preventAssignment: true, values: { __KIMLIK_VERSION__: version } });

/**
 * Properties the minifier may rename in the script-tag bundle: each is read and written only by
 * code inside it (the client's protected members, the send queue's pump, the stash's unsaved
 * events, the identity store's helpers, resolved backoff options). Names terser knows from the DOM
 * (restore, persist, delivery, loading, …) are never renamed, so they are not listed. ~60 B gzip.
 */
const INTERNAL_PROPERTIES =
  /^(report|consentState|guard|pump|setConsent|applyConsent|startQueue|hand|drain|unsaved|owns|forget|backoff|baseMs|maxMs|refused|atLoad|landing)$/;

export default [
  // For bundlers: one ES module, @kimlik/core and idb-keyval left as imports so the app's bundler
  // dedupes and tree-shakes them (package.json says sideEffects: false). Types are tsc's dist/*.d.ts.
  {
    input: here('./dist/index.js'),
    external: ['@kimlik/core', 'idb-keyval'],
    plugins: [version$()],
    output: { file: here('./dist/kimlik.mjs'), format: 'es', sourcemap: true },
  },
  // For the script tag: everything in one minified IIFE that installs window.kimlik.
  {
    input: here('./dist/script-tag.js'),
    plugins: [nodeResolve({ browser: true }), version$()],
    output: {
      file: here('./dist/kimlik.min.js'),
      format: 'iife',
      // The map is written beside it without a sourceMappingURL comment: the collector serves the
      // bundle alone at /kimlik.js, where the comment would only earn a 404 in devtools.
      sourcemap: 'hidden',
      // unsafe* and pure_getters assume what the SDK's code keeps true: no getter with side effects,
      // no method used as a constructor, no reliance on comparison coercions. The browser suites run
      // on this output.
      plugins: [
        terser({
          ecma: 2020,
          // Error classes keep their names: `new.target.name` is what `onError` receivers see.
          keep_classnames: /Error$/,
          compress: {
            passes: 4,
            pure_getters: true,
            unsafe: true,
            unsafe_arrows: true,
            unsafe_comps: true,
            unsafe_math: true,
            unsafe_methods: true,
          },
          // Internal names only (engine batches and buffers, resolved options, storage ports), never
          // the public API, options, error fields or the wire format: nothing outside this bundle
          // sees these objects.
          mangle: { properties: { regex: INTERNAL_PROPERTIES } },
          format: { comments: false },
        }),
      ],
    },
  },
  // The async snippet, minified for pasting; placeholders are replaced by whoever renders it.
  {
    input: here('./snippet/snippet.js'),
    output: {
      file: here('./dist/snippet.min.js'),
      format: 'es',
      plugins: [terser({ ecma: 2020, module: false, format: { comments: false } })],
    },
  },
];
