import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCollector, type TestCollector } from '../../../tests/helpers/collector.js';
import { HTTP_ERRORS } from '../http/errors.js';
import { OPENAPI } from './openapi-document.js';

let c: TestCollector;
beforeAll(async () => {
  c = await startTestCollector();
});
afterAll(async () => {
  await c.close();
});

describe('the API documents stay true', () => {
  it('every route is in the OpenAPI document, and every documented path is a route', async () => {
    const served = await (await fetch(`${c.url}/openapi.json`)).json();
    expect(served).toEqual(JSON.parse(JSON.stringify(OPENAPI)));
    const routes = new Set(
      c.collector.routes
        .filter((r) => r.method !== 'HEAD' && r.method !== 'OPTIONS')
        .map((r) => `${r.method.toLowerCase()} ${r.url.replace(/:(\w+)/g, '{$1}')}`),
    );
    const documented = new Set(
      Object.entries(OPENAPI.paths as Record<string, Record<string, unknown>>).flatMap(([path, ops]) =>
        Object.keys(ops).map((m) => `${m} ${path}`),
      ),
    );
    expect([...routes].sort()).toEqual([...documented].sort());
  });

  it('every error code is in the README error table', () => {
    const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
    const missing = Object.keys(HTTP_ERRORS).filter((code) => !readme.includes(`\`${code}\``));
    expect(missing).toEqual([]);
  });

  it('every configuration option is in the README configuration table', async () => {
    const { ENV_NAMES } = await import('../options.js');
    const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
    expect(Object.values(ENV_NAMES).filter((name) => !readme.includes(`\`${name}\``))).toEqual([]);
  });
});
