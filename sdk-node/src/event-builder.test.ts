import { createRequire } from 'node:module';
import { runInNewContext } from 'node:vm';
import { uuidv7Time } from '@kimlik/core';
import { describe, expect, it } from 'vitest';
import { buildEvent } from './event-builder.js';

const NOW = Date.parse('2026-11-23T12:00:00.000Z');
// The real Luxon (hoisted from a dev dependency, untyped here): its DateTime has toISO() and no toISOString().
const { DateTime } = createRequire(import.meta.url)('luxon') as {
  DateTime: { fromISO(iso: string, opts: { zone: string }): object };
};
const parse = (b: ReturnType<typeof buildEvent>) => {
  if (!b.ok) throw new Error(b.reason);
  return JSON.parse(b.json) as Record<string, unknown>;
};

describe('buildEvent', () => {
  it('sets type, a UUIDv7 messageId, timestamp and context.library', () => {
    const built = buildEvent('track', { userId: 42, event: 'Order Completed', properties: { total: 1 } }, NOW);
    const e = parse(built);
    expect(e).toMatchObject({
      type: 'track',
      userId: '42',
      event: 'Order Completed',
      timestamp: '2026-11-23T12:00:00.000Z',
    });
    expect(uuidv7Time(String(e.messageId))).toBe(NOW);
    expect(e.context).toEqual({ library: { name: '@kimlik/node', version: '0.1.0' } });
  });

  it('keeps a caller messageId, a Date timestamp and caller context', () => {
    const e = parse(
      buildEvent(
        'identify',
        { anonymousId: 'a', messageId: 'mine', timestamp: new Date(0), context: { ip: '1.2.3.4' }, traits: { x: 1 } },
        NOW,
      ),
    );
    expect(e).toMatchObject({ messageId: 'mine', timestamp: '1970-01-01T00:00:00.000Z', traits: { x: 1 } });
    expect(e.context).toMatchObject({ ip: '1.2.3.4', library: { name: '@kimlik/node' } });
  });

  it('puts a page category into properties', () => {
    expect(parse(buildEvent('page', { userId: 'u', name: 'Home', category: 'Docs' }, NOW)).properties).toEqual({
      category: 'Docs',
    });
  });

  it('refuses what no collector would accept, naming the field', () => {
    expect(buildEvent('track', { event: 'x' }, NOW)).toMatchObject({
      ok: false,
      code: 'KIMLIK_EVENT_IDENTITY_MISSING',
    });
    expect(buildEvent('track', { userId: 'u' }, NOW)).toMatchObject({ ok: false, code: 'KIMLIK_EVENT_FIELD_MISSING' });
    expect(buildEvent('group', { userId: 'u' }, NOW)).toMatchObject({ ok: false, reason: /groupId/ });
    expect(buildEvent('alias', { previousId: 'p' } as never, NOW)).toMatchObject({ ok: false });
    expect(buildEvent('track', { userId: 'u', event: 'x', properties: { n: 1n } } as never, NOW)).toMatchObject({
      ok: false,
      code: 'KIMLIK_EVENT_NOT_JSON',
    });
    expect(buildEvent('track', null, NOW)).toMatchObject({ ok: false, code: 'KIMLIK_EVENT_NOT_OBJECT' });
    // A messageId the collector refuses, or one the spool cannot hold (its records end an id at a newline).
    for (const messageId of ['x'.repeat(100), 'order\n42', 'tab\there']) {
      expect(buildEvent('track', { userId: 'u', event: 'x', messageId }, NOW), JSON.stringify(messageId)).toMatchObject(
        {
          ok: false,
          code: 'KIMLIK_EVENT_MESSAGE_ID_INVALID',
        },
      );
    }
    expect(buildEvent('track', { userId: 'u', event: 'x', messageId: '\u{1F600}'.repeat(99) }, NOW).ok).toBe(true);
    // An invalid Date threw a RangeError out of track().
    expect(buildEvent('track', { userId: 'u', event: 'x', timestamp: new Date('not a date') }, NOW)).toMatchObject({
      ok: false,
      code: 'KIMLIK_EVENT_TIMESTAMP_INVALID',
    });
  });

  it('takes epoch milliseconds, Luxon DateTimes, objects with toISOString() and Dates from another realm as timestamps', () => {
    const at = '2020-01-02T03:04:05.678Z';
    const stamps = {
      epochMs: Date.parse(at),
      // Luxon has no toISOString(): its DateTime was refused and the event lost.
      luxon: DateTime.fromISO(at, { zone: 'utc' }),
      dayjsLike: { toISOString: () => at, toJSON: () => at },
      otherRealmDate: runInNewContext(`new Date(${JSON.stringify(at)})`),
    };
    for (const [name, timestamp] of Object.entries(stamps)) {
      // They were replaced by now, silently.
      expect(parse(buildEvent('track', { userId: 'u', event: 'x', timestamp } as never, NOW)).timestamp, name).toBe(at);
    }
    // What no clock means is refused, as an invalid Date is; a missing one is now.
    const refused = [
      NaN,
      Infinity,
      8.64e15 + 1,
      true,
      {},
      { toISOString: () => 42 },
      { toISO: () => null },
      DateTime.fromISO('not a date', { zone: 'utc' }),
      runInNewContext('new Date(NaN)'),
    ];
    for (const timestamp of refused) {
      expect(
        buildEvent('track', { userId: 'u', event: 'x', timestamp } as never, NOW),
        String(timestamp),
      ).toMatchObject({
        ok: false,
        code: 'KIMLIK_EVENT_TIMESTAMP_INVALID',
      });
    }
    expect(parse(buildEvent('track', { userId: 'u', event: 'x', timestamp: null } as never, NOW)).timestamp).toBe(
      new Date(NOW).toISOString(),
    );
  });
  it('refuses a message it cannot read (a revoked Proxy, a throwing getter) instead of throwing', () => {
    const { proxy, revoke } = Proxy.revocable({ ip: '1.2.3.4' }, {});
    revoke();
    const unreadable = [
      proxy,
      { userId: 'u', event: 'x', context: proxy },
      {
        userId: 'u',
        event: 'x',
        get properties() {
          throw new Error('lazy load failed');
        },
      },
    ];
    for (const message of unreadable) {
      expect(buildEvent('track', message as never, NOW)).toMatchObject({
        ok: false,
        code: 'KIMLIK_EVENT_NOT_READABLE',
      });
    }
  });
});
