import { existsSync, readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { describe, expect, test } from 'vitest';
import budget from '../size-budget.json' with { type: 'json' };

const IIFE = new URL('../dist/kimlik.min.js', import.meta.url);

describe('bundle size budget', () => {
  test('the script-tag IIFE stays within its gzip budget', () => {
    expect(existsSync(IIFE), 'sdk-web/dist/kimlik.min.js is missing: run `npm run build`').toBe(true);
    const gzip = gzipSync(readFileSync(IIFE), { level: 9 }).length;
    expect(gzip).toBeLessThanOrEqual(budget.iifeGzipBytes);
  });

  test('the minified IIFE keeps the error class names onError receivers see (error.name)', () => {
    const source = readFileSync(IIFE, 'utf8');
    for (const name of ['KimlikError', 'InvalidOptionError', 'TransportError', 'DeliveryError']) {
      expect(source, `${name} was renamed by the minifier`).toMatch(new RegExp(`class ${name}\\b`));
    }
  });
});
