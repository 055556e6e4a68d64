import { describe, expect, test } from 'vitest';
import { createKimlik } from './api.js';

// Node has no window: what a server render that imports @kimlik/web gets.
describe('the browser SDK on a server', () => {
  test('calls do nothing: init() does not throw, flush() and ready() resolve, calls are not kept for init()', {
    timeout: 5000,
  }, async () => {
    const k = createKimlik();
    k.track('Viewed', { sku: 'sku-1' });
    // A call kept for init() would hold this flush() until one ran.
    await k.flush();
    expect(() => k.init({ writeKey: 'wk_test', endpoint: 'https://c.example.com' })).not.toThrow();
    k.identify('u-1', { plan: 'pro' }).track('Viewed');
    let called = false;
    await Promise.all([k.flush(), k.ready(() => (called = true))]);
    expect(called).toBe(true);
    expect(k.user()).toEqual({ anonymousId: '', userId: null, traits: {} });
  });
});
