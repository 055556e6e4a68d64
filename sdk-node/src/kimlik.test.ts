import { afterEach, describe, expect, it } from 'vitest';
import { Kimlik } from './kimlik.js';

const clients: Kimlik[] = [];
afterEach(async () => {
  for (const k of clients.splice(0)) await k.shutdown({ timeoutMs: 0 });
});

describe('Kimlik calls never throw', () => {
  it('a message it cannot read goes to onError as …_INVALID_EVENT and the call returns', async () => {
    const errors: { code: string; reason: string | undefined }[] = [];
    // Nothing is sent: every call here is refused before queueing.
    const k = new Kimlik({
      writeKey: 'wk_test',
      endpoint: 'http://127.0.0.1:9',
      onError: (e) => errors.push({ code: e.code, reason: (e as { reason?: string }).reason }),
    });
    clients.push(k);
    const { proxy, revoke } = Proxy.revocable({ ip: '1.2.3.4' }, {});
    revoke();
    const receipts = [
      k.track(proxy as never),
      k.track({ userId: 'u', event: 'e', context: proxy }),
      k.identify({
        userId: 'u',
        get traits(): Record<string, unknown> {
          throw new Error('lazy load failed');
        },
      }),
    ];
    for (const r of receipts)
      expect(await r).toMatchObject({ delivered: false, error: { code: 'KIMLIK_DELIVERY_INVALID_EVENT' } });
    expect(errors).toEqual(
      Array.from({ length: 3 }, () => ({ code: 'KIMLIK_DELIVERY_INVALID_EVENT', reason: 'KIMLIK_EVENT_NOT_READABLE' })),
    );
  });

  it('an onError that throws is told to onWarn, not thrown from the call', () => {
    const warnings: string[] = [];
    const k = new Kimlik({
      writeKey: 'wk_test',
      endpoint: 'http://127.0.0.1:9',
      onError: () => {
        throw new Error('handler broke');
      },
      onWarn: (m) => warnings.push(m),
    });
    clients.push(k);
    expect(() => k.track({ userId: 'u' } as never)).not.toThrow();
    expect(warnings).toEqual(['onError threw: handler broke']);
  });
});
