// Builds dist/index.cjs from the tsc output (see rollup.builds.mjs); run after `tsc -b`.
import { rollup } from 'rollup';
import builds from './rollup.builds.mjs';

for (const { output, ...input } of builds) {
  const bundle = await rollup(input);
  await bundle.write(output);
  await bundle.close();
}
