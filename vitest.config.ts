import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const src = (p: string) => fileURLToPath(new URL(p, import.meta.url));

export default defineConfig({
  resolve: {
    // Unit tests run against sources; worker threads and child processes use the built dist/.
    alias: { '@kimlik/core': src('./core/src/index.ts') },
  },
  test: {
    include: ['{core,collector,sdk-node,sdk-web}/src/**/*.test.ts', 'tests/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Integration suites start servers and browsers; two cores are shared by all of them.
    maxWorkers: 2,
  },
});
