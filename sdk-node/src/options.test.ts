import { DELIVERY_DEFAULTS } from '@kimlik/core';
import { describe, expect, it } from 'vitest';
import { DEFAULTS, resolveOptions } from './options.js';

describe('resolveOptions', () => {
  it('applies the defaults and freezes the result', () => {
    const o = resolveOptions({ writeKey: 'wk_123' });
    expect(o.endpoint.href).toBe(`${DEFAULTS.endpoint}/`);
    expect(o.delivery.flushAt).toBe(DELIVERY_DEFAULTS.flushAt);
    expect(o.spool).toBeUndefined();
    expect(o.gzipLevel).toBe(DEFAULTS.gzipLevel);
    expect(Object.isFrozen(o) && Object.isFrozen(DEFAULTS)).toBe(true);
    expect(resolveOptions({ writeKey: 'wk', spool: { dir: '/tmp/x' } }).spool).toEqual({
      dir: '/tmp/x',
      ...DEFAULTS.spool,
    });
  });

  it('throws at construction with what to write instead', () => {
    expect(() => resolveOptions({} as never)).toThrow(/writeKey.*required/);
    expect(() => resolveOptions({ writeKey: 'wk', endpoint: 'collector:8080/x y' })).toThrow(/endpoint/);
    expect(() => resolveOptions({ writeKey: 'wk', endpoint: 'ftp://x' })).toThrow(/http: or https:/);
    expect(() => resolveOptions({ writeKey: 'wk', spool: {} as never })).toThrow(/spool: \{ dir:/);
    expect(() => resolveOptions({ writeKey: 'wk', gzipLevel: 11 })).toThrow(/gzipLevel.*0 to 9/);
    expect(() => resolveOptions({ writeKey: 'wk', maxQueueEvents: -1 })).toThrow(/maxQueueEvents/);
  });
});
