/**
 * A worker thread's entry file beside this module. Under vitest the store runs from src/*.ts, which
 * a worker thread cannot load; the compiled worker in dist/ is the same code (`npm test` builds
 * before it runs).
 */
export function workerUrl(file: string): URL {
  const url = new URL(`./${file}`, import.meta.url);
  if (import.meta.url.endsWith('.ts')) {
    return new URL(url.href.replace('/collector/src/', '/collector/dist/'));
  }
  return url;
}
