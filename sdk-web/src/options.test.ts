import { InvalidOptionError } from '@kimlik/core';
import { describe, expect, test } from 'vitest';
import { DEFAULTS, resolveOptions } from './options.js';

describe('resolveOptions', () => {
  test('merges DEFAULTS, takes the page origin as endpoint and resolves the engine options', () => {
    const o = resolveOptions({ writeKey: 'wk' }, 'https://shop.example');
    expect(o.endpoint).toBe('https://shop.example');
    expect(o.autoPage).toBe(DEFAULTS.autoPage);
    expect(o.delivery.flushAt).toBe(DEFAULTS.flushAt);
    expect(o.delivery.maxQueueEvents).toBe(10_000);
    expect(Object.isFrozen(o)).toBe(true);
  });

  test('an explicit endpoint wins, without its trailing slash', () => {
    expect(resolveOptions({ writeKey: 'wk', endpoint: 'https://c.example/' }, 'https://x').endpoint).toBe(
      'https://c.example',
    );
  });

  test.each([
    [{ writeKey: '' }, 'writeKey'],
    [{ writeKey: 'wk', endpoint: 'c.example' }, 'endpoint'],
    [{ writeKey: 'wk', consent: 'maybe' }, 'consent'],
    [{ writeKey: 'wk', flushAt: 0 }, 'flushAt'],
    [{ writeKey: 'wk', beaconBytes: -1 }, 'beaconBytes'],
  ])('rejects %o naming %s', (options, option) => {
    expect(() => resolveOptions(options as never, 'https://x')).toThrow(InvalidOptionError);
    expect(() => resolveOptions(options as never, 'https://x')).toThrow(option);
  });
});
