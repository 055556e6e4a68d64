// Bundles (sdk-web ESM + IIFE, the dashboard, the Node SDK's CommonJS build). Each package contributes its builds in its
// own rollup.builds.mjs so this file stays the one entry point `npm run build` calls.
import { existsSync } from 'node:fs';

const parts = ['sdk-web/rollup.builds.mjs', 'collector/rollup.builds.mjs', 'sdk-node/rollup.builds.mjs'];
const builds = [];
for (const part of parts) {
  if (existsSync(new URL(part, import.meta.url))) {
    const mod = await import(`./${part}`);
    builds.push(...mod.default);
  }
}
export default builds;
