import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCollector, type TestCollector } from '../../../tests/helpers/collector.js';
import { describeStores } from '../../../tests/helpers/stores.js';

let c: TestCollector;

const basic = (key: string) => `Basic ${Buffer.from(`${key}:`).toString('base64')}`;

async function post(path: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${c.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: basic(c.writeKey), ...headers },
    body: (typeof body === 'string' || body instanceof Uint8Array ? body : JSON.stringify(body)) as BodyInit,
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : null };
}

/** No lone surrogate (with the u flag a pair is one code point, so only a lone half matches). */
const wellFormed = (s: string) => !/[\uD800-\uDFFF]/u.test(s);

let n = 0;
const track = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  type: 'track',
  event: 'Order Completed',
  userId: 'u1',
  messageId: `m-${++n}-${Math.random()}`,
  ...extra,
});

// The storage contract, through HTTP: the same suite on every store.
describeStores('ingest', (store) => {
  beforeAll(async () => {
    c = await startTestCollector({ maxBodyBytes: 64 * 1024, database: store.database() });
  });
  afterAll(async () => {
    await c?.close();
  });

  describe('ingest over HTTP', () => {
    it('stores a valid batch and answers accepted/rejected', async () => {
      const batch = [track(), track(), { type: 'identify', anonymousId: 'a1', traits: { email: 'x@y.z' } }];
      const r = await post('/v1/batch', { batch });
      expect(r.status).toBe(200);
      expect(r.body).toEqual({ success: true, accepted: 3, duplicates: 0, rejected: [] });
    });

    it('rejects one bad event by index and stores the rest', async () => {
      const good = track();
      const r = await post('/v1/batch', {
        batch: [good, { type: 'track', userId: 'u1' }, 'nope', track({ userId: '' })],
      });
      expect(r.status).toBe(200);
      expect(r.body.accepted).toBe(1);
      expect(r.body.rejected.map((x: { index: number; code: string }) => [x.index, x.code])).toEqual([
        [1, 'KIMLIK_EVENT_FIELD_MISSING'],
        [2, 'KIMLIK_EVENT_NOT_OBJECT'],
        [3, 'KIMLIK_EVENT_IDENTITY_MISSING'],
      ]);
      const stored = await c.storedEvents();
      expect(stored.some((e) => e.messageId === good.messageId)).toBe(true);
    });

    it('answers 400 with the same detail when every event is invalid', async () => {
      const r = await post('/v1/batch', { batch: [{ type: 'nope', userId: 'u' }] });
      expect(r.status).toBe(400);
      expect(r.body.error.code).toBe('KIMLIK_BATCH_ALL_REJECTED');
      expect(r.body.rejected[0]).toMatchObject({ index: 0, code: 'KIMLIK_EVENT_TYPE_INVALID' });
      expect(r.body.rejected[0].reason).toMatch(/type must be one of/);
    });

    it('stores a messageId once however often it is re-sent, across and within requests', async () => {
      const e = track();
      const answers = await Promise.all([1, 2, 3, 4].map(() => post('/v1/batch', { batch: [e, e] })));
      const stored = answers.reduce((s, a) => s + a.body.accepted - a.body.duplicates, 0);
      expect(stored).toBe(1);
      const again = await post('/v1/track', e);
      expect(again.body).toMatchObject({ accepted: 1, duplicates: 1 });
      const all = await c.storedEvents();
      expect(all.filter((x) => x.messageId === e.messageId)).toHaveLength(1);
    });

    it('assigns a messageId when the client sends none', async () => {
      const r = await post('/v1/track', { userId: 'u9', event: 'No Id' });
      expect(r.status).toBe(200);
      const all = await c.storedEvents();
      const e = all.find((x) => x.event === 'No Id');
      expect(e?.messageId).toMatch(/^[0-9a-f-]{36}$/);
      expect(e?.warnings).toContain('message_id_assigned_by_server');
    });

    it('single-event endpoints set the type from the path', async () => {
      for (const [path, body] of [
        ['/v1/identify', { userId: 'u2', traits: { plan: 'pro' } }],
        ['/v1/page', { anonymousId: 'a2', name: 'Home' }],
        ['/v1/screen', { anonymousId: 'a2', name: 'Main' }],
        ['/v1/group', { userId: 'u2', groupId: 'g1' }],
        ['/v1/alias', { userId: 'u2', previousId: 'a2' }],
        ['/v1/t', { userId: 'u2', event: 'Short Path' }],
      ] as const) {
        const r = await post(path, { ...body, messageId: `single-${path}` });
        expect(r.status, path).toBe(200);
      }
      const all = await c.storedEvents();
      expect(all.find((e) => e.messageId === 'single-/v1/alias')).toMatchObject({ type: 'alias', previousId: 'a2' });
    });

    it('corrects clock skew from sentAt and keeps originalTimestamp', async () => {
      const now = Date.now();
      // The device clock runs one hour ahead.
      const skew = 3600_000;
      const e = track({
        timestamp: new Date(now + skew - 5000).toISOString(),
        sentAt: new Date(now + skew).toISOString(),
      });
      await post('/v1/batch', { batch: [e] });
      const stored = (await c.storedEvents()).find((x) => x.messageId === e.messageId) as Record<string, string>;
      const ts = Date.parse(stored.timestamp as string);
      const received = Date.parse(stored.receivedAt as string);
      expect(received - ts).toBeGreaterThanOrEqual(4900);
      expect(received - ts).toBeLessThanOrEqual(5100);
      expect(stored.originalTimestamp).toBe(e.timestamp);
    });

    it('clamps a timestamp too far in the future and flags it', async () => {
      const e = track({ timestamp: new Date(Date.now() + 3 * 86400_000).toISOString() });
      await post('/v1/batch', { batch: [e] });
      const stored = (await c.storedEvents()).find((x) => x.messageId === e.messageId) as Record<string, unknown>;
      expect(Math.abs(Date.parse(stored.timestamp as string) - Date.parse(stored.receivedAt as string))).toBe(0);
      expect(stored.warnings).toContain('timestamp_in_future_clamped');
    });

    it('merges batch-level context into each event, the event winning', async () => {
      const e = track({ context: { ip: '1.2.3.4' } });
      await post('/v1/batch', { batch: [e], context: { library: { name: 'x' }, ip: '9.9.9.9' } });
      const stored = (await c.storedEvents()).find((x) => x.messageId === e.messageId) as Record<string, unknown>;
      expect(stored.context).toEqual({ library: { name: 'x' }, ip: '1.2.3.4' });
    });

    it('accepts text/plain and the write key in the body (sendBeacon)', async () => {
      const e = track();
      const r = await post('/v1/batch', JSON.stringify({ batch: [e], writeKey: c.writeKey }), {
        'content-type': 'text/plain;charset=UTF-8',
        authorization: '',
      });
      expect(r.status).toBe(200);
      expect(r.body.accepted).toBe(1);
    });

    it('reads JSON sent as form-urlencoded, octet-stream or with no Content-Type (RudderStack, curl -d, requests)', async () => {
      const events = [track(), track(), track()];
      const body = (e: Record<string, unknown>) => new TextEncoder().encode(JSON.stringify({ batch: [e] }));
      const auth = { authorization: basic(c.writeKey) };
      const statuses = [
        (
          await post('/v1/batch', body(events[0] as Record<string, unknown>), {
            'content-type': 'application/x-www-form-urlencoded',
          })
        ).status,
        (
          await post('/v1/batch', body(events[1] as Record<string, unknown>), {
            'content-type': 'application/octet-stream',
          })
        ).status,
        // A byte body without a Content-Type header at all.
        (
          await fetch(`${c.url}/v1/batch`, {
            method: 'POST',
            headers: auth,
            body: body(events[2] as Record<string, unknown>),
          })
        ).status,
      ];
      expect(statuses).toEqual([200, 200, 200]);
      const stored = new Set((await c.storedEvents()).map((e) => e.messageId));
      for (const e of events) expect(stored.has(e.messageId)).toBe(true);
    });

    it('accepts gzip bodies', async () => {
      const e = track();
      const r = await post('/v1/batch', gzipSync(JSON.stringify({ batch: [e] })), { 'content-encoding': 'gzip' });
      expect(r.status).toBe(200);
      expect(r.body.accepted).toBe(1);
    });

    it('CORS: answers preflights and echoes the origin', async () => {
      const pre = await fetch(`${c.url}/v1/batch`, {
        method: 'OPTIONS',
        headers: { origin: 'https://shop.example', 'access-control-request-method': 'POST' },
      });
      expect(pre.status).toBe(204);
      expect(pre.headers.get('access-control-allow-origin')).toBe('https://shop.example');
      expect(pre.headers.get('access-control-allow-headers')).toMatch(/Authorization/);
      const r = await post('/v1/batch', { batch: [track()] }, { origin: 'https://shop.example' });
      expect(r.headers.get('access-control-allow-origin')).toBe('https://shop.example');
    });

    it("CORS: a preflight asking for a client's own headers is granted them (RudderStack's AnonymousId)", async () => {
      const pre = await fetch(`${c.url}/v1/batch`, {
        method: 'OPTIONS',
        headers: {
          origin: 'https://shop.example',
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'authorization,anonymousid,content-type',
        },
      });
      expect(pre.status).toBe(204);
      expect(pre.headers.get('access-control-allow-headers')?.toLowerCase().split(/,\s*/)).toContain('anonymousid');
      expect(pre.headers.get('vary')).toMatch(/Access-Control-Request-Headers/);
    });
  });

  describe('the batch envelope is checked like the events it is merged into', () => {
    const storedById = async (id: unknown) =>
      (await c.storedEvents()).find((x) => x.messageId === id) as Record<string, unknown> | undefined;

    it('a batch context nested too deep, with a prototype key, a lone surrogate or not an object: 400 naming it, nothing stored', async () => {
      const deep = `${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}`;
      for (const context of [deep, '{"__proto__":{"polluted":1}}', '{"s":"\\ud800"}', '"text"', '[1]']) {
        const e = track();
        const r = await post('/v1/batch', `{"batch":[${JSON.stringify(e)}],"context":${context}}`);
        expect(r.status).toBe(400);
        expect(r.body.error.code).toBe('KIMLIK_REQUEST_INVALID');
        expect(r.body.error.message).toMatch(/^The batch's context/);
        expect(await storedById(e.messageId)).toBeUndefined();
      }
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    });

    it('a batch context cannot multiply what a small body stores: 413 past four times the body limit', async () => {
      const events = (n: number) => Array.from({ length: n }, () => ({ type: 'track', event: 'e', userId: 'u-ctx' }));
      // 2 KB merged into 200 events is 400 KB, from a 30 KB body (the body limit here is 64 KB).
      const r = await post('/v1/batch', { batch: events(200), context: { blob: 'x'.repeat(2000) } });
      expect(r.status).toBe(413);
      expect(r.body.error.code).toBe('KIMLIK_BODY_TOO_LARGE');
      expect(r.body.error.message).toMatch(/context/);
      // The same detail field as a body over the limit: the limit in bytes.
      expect(r.body.error.limitBytes).toBe(4 * 64 * 1024);
      const ok = await post('/v1/batch', { batch: events(200), context: { library: { name: 'x', version: '1' } } });
      expect(ok.body).toMatchObject({ accepted: 200, rejected: [] });
    });

    it('batch-level integrations are merged into each event, the event winning', async () => {
      const e = track({ integrations: { Mixpanel: false } });
      await post('/v1/batch', { batch: [e], integrations: { All: true, Mixpanel: true } });
      expect((await storedById(e.messageId))?.integrations).toEqual({ All: true, Mixpanel: false });
    });

    it('an invalid batch sentAt is not used to correct timestamps, and says so on each event', async () => {
      const e = track({ timestamp: '2026-01-01T00:00:00.000Z' });
      const r = await post('/v1/batch', { batch: [e], sentAt: 'yesterday' });
      expect(r.body).toMatchObject({ accepted: 1 });
      const stored = await storedById(e.messageId);
      expect(stored?.timestamp).toBe('2026-01-01T00:00:00.000Z');
      expect(stored?.sentAt).toBeUndefined();
      expect(stored?.warnings).toEqual(['batch_sent_at_invalid_ignored']);
    });

    it("an event's invalid sentAt is ignored with a warning, not a reason to lose the event", async () => {
      const a = track({ timestamp: '2026-01-01T00:00:00.000Z', sentAt: 'soon' });
      const b = track({ timestamp: '2026-01-01T00:00:00.000Z', sentAt: 12 });
      const batchSentAt = new Date(Date.now() - 60_000).toISOString();
      const r = await post('/v1/batch', { batch: [a, b], sentAt: batchSentAt });
      expect(r.body).toMatchObject({ accepted: 2, rejected: [] });
      for (const e of [a, b]) {
        const stored = await storedById(e.messageId);
        // The batch's sentAt takes its place: the clock correction still applies.
        expect(stored?.sentAt).toBe(batchSentAt);
        expect(stored?.warnings).toEqual(['sent_at_invalid_ignored']);
        expect(Date.parse(String(stored?.timestamp))).toBeGreaterThan(Date.parse('2026-01-01T00:00:30.000Z'));
      }
      const one = track({ sentAt: 'soon' });
      expect((await post('/v1/track', one)).body).toMatchObject({ accepted: 1 });
      expect((await storedById(one.messageId))?.warnings).toEqual(['sent_at_invalid_ignored']);
    });
  });

  describe('event edge cases', () => {
    const storedById = async (id: unknown) =>
      (await c.storedEvents()).find((x) => x.messageId === id) as Record<string, unknown> | undefined;

    it('ids sent as JSON numbers are kept as their digits; one past 2^53 is refused, not rounded into another', async () => {
      const id = (n: string) => `{"type":"identify","messageId":"num-${n}-${Math.random()}","userId":${n}}`;
      const r = await post(
        '/v1/batch',
        `{"batch":[${id('42')},${id('9007199254740993')},${id('12345678901234567890')},${id('9007199254740991')}]}`,
      );
      expect(r.body.accepted).toBe(2);
      expect(r.body.rejected.map((x: { index: number; code: string }) => [x.index, x.code])).toEqual([
        [1, 'KIMLIK_EVENT_FIELD_INVALID'],
        [2, 'KIMLIK_EVENT_FIELD_INVALID'],
      ]);
      expect(r.body.rejected[0].reason).toBe(
        'userId is a number too large to be read exactly (past 2^53): send it as a string',
      );
      const stored = (await c.storedEvents()).map((e) => e.userId);
      expect(stored).toContain('42');
      expect(stored).toContain('9007199254740991');
      expect(stored).not.toContain('9007199254740992');
    });

    it('the event limit counts the event as sent, not the fields the server adds', async () => {
      const sized = (bytes: number) => {
        const base = { type: 'track', event: 'big', userId: 'u-size', properties: { pad: '' } };
        return { ...base, properties: { pad: 'x'.repeat(bytes - Buffer.byteLength(JSON.stringify(base))) } };
      };
      // No messageId or timestamp: the server adds both, plus receivedAt and originalTimestamp.
      const sentAt = new Date().toISOString();
      const fits = await post('/v1/batch', { batch: [sized(32 * 1024)], sentAt });
      expect(fits.body).toMatchObject({ accepted: 1, rejected: [] });
      const over = await post('/v1/batch', { batch: [track(), sized(32 * 1024 + 1)], sentAt });
      expect(over.body.rejected).toEqual([
        {
          index: 1,
          messageId: null,
          code: 'KIMLIK_EVENT_TOO_LARGE',
          reason: 'event is 32769 bytes; the limit is 32768 bytes per event',
        },
      ]);
    });

    it('a messageId holding NUL is refused alone, so it cannot be taken for another id as PostgreSQL stores it', async () => {
      const sentAt = new Date().toISOString();
      const nul = { type: 'track', userId: 'u-nul', event: 'first', messageId: 'm-X\u0000Y' };
      const replacement = { type: 'track', userId: 'u-nul', event: 'second', messageId: 'm-X\uFFFDY' };
      const res = await post('/v1/batch', { batch: [replacement, nul], sentAt });
      expect(res.body).toMatchObject({
        accepted: 1,
        rejected: [
          { index: 1, code: 'KIMLIK_EVENT_MESSAGE_ID_INVALID', reason: 'messageId contains a NUL character (U+0000)' },
        ],
      });
      expect((await post('/v1/batch', { batch: [nul], sentAt })).status).toBe(400);
      const stored = (await c.storedEvents()).filter((e) => e.userId === 'u-nul');
      expect(stored.map((e) => e.event)).toEqual(['second']);
    });

    it('numeric ids count as sent: the quotes the server adds when it stores them as strings do not count', async () => {
      const sized = (bytes: number) => {
        const base = {
          type: 'track',
          event: 'big',
          userId: 1234567,
          anonymousId: 7654321,
          messageId: `m-num-${bytes}`,
        };
        const padded = { ...base, properties: { pad: '' } };
        return { ...base, properties: { pad: 'x'.repeat(bytes - Buffer.byteLength(JSON.stringify(padded))) } };
      };
      const sentAt = new Date().toISOString();
      const fits = await post('/v1/batch', { batch: [sized(32 * 1024)], sentAt });
      expect(fits.body).toMatchObject({ accepted: 1, rejected: [] });
      const over = await post('/v1/batch', { batch: [track(), sized(32 * 1024 + 1)], sentAt });
      expect(over.body.rejected[0]).toMatchObject({
        index: 1,
        reason: 'event is 32769 bytes; the limit is 32768 bytes per event',
      });
    });

    it('a single-event endpoint measures the event as sent: the type its path implies does not count', async () => {
      const sized = (bytes: number) => {
        const base = { event: 'big', userId: 'u-size', messageId: `m-size-${bytes}`, properties: { pad: '' } };
        return { ...base, properties: { pad: 'x'.repeat(bytes - Buffer.byteLength(JSON.stringify(base))) } };
      };
      expect((await post('/v1/track', sized(32 * 1024))).status).toBe(200);
      const over = await post('/v1/track', sized(32 * 1024 + 1));
      expect(over.status).toBe(400);
      expect(over.body.rejected[0].reason).toBe('event is 32769 bytes; the limit is 32768 bytes per event');
    });

    it("Segment's Python library: a page or screen without a name (name: null) is stored without one", async () => {
      // What analytics-python sends for page()/screen() without a name.
      const unnamed = (type: string) => ({
        type,
        userId: 'py-u1',
        anonymousId: null,
        name: null,
        category: null,
        properties: {},
        integrations: {},
        context: { library: { name: 'analytics-python', version: '2.3.3' } },
        timestamp: '2026-11-25T02:00:00.123+00:00',
        messageId: `m-py-${type}-${Math.random()}`,
      });
      const page = unnamed('page');
      const screen = unnamed('screen');
      const r = await post('/v1/batch', { batch: [page, screen] });
      expect(r.body).toMatchObject({ accepted: 2, rejected: [] });
      expect(await storedById(page.messageId)).not.toHaveProperty('name');
      expect((await storedById(screen.messageId))?.type).toBe('screen');
    });

    it('a value cut short in a reason or warning is never cut between the halves of a character', async () => {
      const emoji = '\u{1F600}';
      const long = track({ userId: emoji.repeat(600) });
      const r = await post('/v1/batch', {
        batch: [long, track({ timestamp: emoji.repeat(100) }), track({ messageId: emoji.repeat(150) })],
      });
      // 600 characters (1 200 UTF-16 units) is within the 1 024-character limit on ids.
      expect(r.body.accepted).toBe(1);
      expect(r.body.rejected).toHaveLength(2);
      for (const x of r.body.rejected) {
        expect(wellFormed(x.reason), x.reason).toBe(true);
        expect(x.messageId === null || wellFormed(x.messageId)).toBe(true);
      }
      // Too long to be an identifier (over 1 024 bytes): stored with a warning quoting it.
      const stored = await storedById(long.messageId);
      expect(stored?.warnings).toHaveLength(1);
      expect(wellFormed(String(stored?.warnings)), String(stored?.warnings)).toBe(true);
    });

    it('reads a timestamp without an offset as UTC in any collector time zone, and refuses impossible dates', async () => {
      const zone = process.env.TZ;
      process.env.TZ = 'America/New_York';
      try {
        const local = track({ timestamp: '2026-03-01T04:00:00' });
        const segmentDocs = track({ timestamp: '2015-2-02T00:30:08.276Z' });
        const r = await post('/v1/batch', {
          batch: [local, segmentDocs, track({ timestamp: '2026-02-30T00:00:00Z' })],
        });
        expect(r.body.accepted).toBe(2);
        expect(r.body.rejected.map((x: { code: string }) => x.code)).toEqual(['KIMLIK_EVENT_TIMESTAMP_INVALID']);
        expect((await storedById(local.messageId))?.timestamp).toBe('2026-03-01T04:00:00.000Z');
        expect((await storedById(segmentDocs.messageId))?.timestamp).toBe('2015-02-02T00:30:08.276Z');
      } finally {
        if (zone === undefined) delete process.env.TZ;
        else process.env.TZ = zone;
      }
    });

    it('a body refused whole answers in the shape of every ingest answer (success, accepted, rejected)', async () => {
      for (const [path, body] of [
        ['/v1/batch', [track()]],
        ['/v1/batch', { batch: [] }],
        ['/v1/batch', { batch: 'x' }],
        ['/v1/track', '"text"'],
        ['/v1/batch', { batch: [track()], context: 'not an object' }],
      ] as const) {
        const r = await post(path, body);
        expect(r.status, JSON.stringify(body)).toBe(400);
        expect(r.body).toMatchObject({ success: false, accepted: 0, rejected: [] });
      }
    });

    it('answers an endpoint with a trailing slash as without it', async () => {
      const e = track();
      const r = await post('/v1/track/', e);
      expect(r.status).toBe(200);
      expect(await storedById(e.messageId)).toBeDefined();
    });

    it("warnings are the server's: a client cannot set them", async () => {
      const e = track({ warnings: ['timestamp_in_future_clamped'] });
      await post('/v1/batch', { batch: [e] });
      expect(await storedById(e.messageId)).not.toHaveProperty('warnings');
    });

    it('names the problem exactly, without echoing huge values', async () => {
      const r = await post('/v1/batch', {
        batch: [
          track({ event: 42 }),
          track({ userId: '   ' }),
          track({ userId: '   ', anonymousId: 'a-blank-user' }),
          track({ messageId: '  ' }),
          track({ type: 'x'.repeat(20_000) }),
          track({ messageId: '\u{1F600}'.repeat(60) }),
        ],
      });
      expect(r.body.rejected.map((x: { index: number; code: string }) => [x.index, x.code])).toEqual([
        [0, 'KIMLIK_EVENT_FIELD_INVALID'],
        [1, 'KIMLIK_EVENT_IDENTITY_MISSING'],
        [3, 'KIMLIK_EVENT_MESSAGE_ID_INVALID'],
        [4, 'KIMLIK_EVENT_TYPE_INVALID'],
      ]);
      expect(r.body.accepted).toBe(2);
      for (const x of r.body.rejected) expect(x.reason.length).toBeLessThan(300);
    });
  });

  describe('every class of bad input gets a clear error and stores nothing', () => {
    const cases: [string, () => Promise<{ status: number; body: { error?: { code: string } } }>, number, string][] = [
      [
        'missing write key',
        () => post('/v1/batch', { batch: [track()] }, { authorization: '' }),
        401,
        'KIMLIK_AUTH_MISSING',
      ],
      [
        'wrong write key',
        () => post('/v1/batch', { batch: [track()] }, { authorization: basic('nope') }),
        401,
        'KIMLIK_AUTH_INVALID',
      ],
      ['invalid JSON', () => post('/v1/batch', '{"batch": [', {}), 400, 'KIMLIK_BODY_INVALID_JSON'],
      ['empty body', () => post('/v1/batch', '', {}), 400, 'KIMLIK_BODY_INVALID_JSON'],
      ['JSON array body', () => post('/v1/batch', [track()]), 400, 'KIMLIK_BODY_NOT_BATCH'],
      ['JSON string body', () => post('/v1/batch', '"hello"'), 400, 'KIMLIK_BODY_NOT_BATCH'],
      ['batch not an array', () => post('/v1/batch', { batch: { a: 1 } }), 400, 'KIMLIK_BODY_NOT_BATCH'],
      ['empty batch', () => post('/v1/batch', { batch: [] }), 400, 'KIMLIK_BODY_NOT_BATCH'],
      ['null single event', () => post('/v1/track', 'null'), 400, 'KIMLIK_BODY_NOT_OBJECT'],
      [
        'invalid UTF-8',
        () =>
          post(
            '/v1/batch',
            Buffer.concat([
              Buffer.from('{"batch":[{"type":"track","userId":"'),
              Buffer.from([0xc3, 0x28]),
              Buffer.from('","event":"x"}]}'),
            ]),
          ),
        400,
        'KIMLIK_BODY_INVALID_UTF8',
      ],
      [
        'corrupt gzip',
        () => post('/v1/batch', Buffer.from('not gzip at all'), { 'content-encoding': 'gzip' }),
        400,
        'KIMLIK_BODY_INVALID_GZIP',
      ],
      [
        'unknown encoding',
        () => post('/v1/batch', '{}', { 'content-encoding': 'br' }),
        415,
        'KIMLIK_UNSUPPORTED_ENCODING',
      ],
      [
        'unsupported media type',
        () => post('/v1/batch', '<xml/>', { 'content-type': 'application/xml' }),
        415,
        'KIMLIK_UNSUPPORTED_MEDIA_TYPE',
      ],
      [
        'body over the limit',
        () => post('/v1/batch', { batch: [track({ properties: { s: 'x'.repeat(70_000) } })] }),
        413,
        'KIMLIK_BODY_TOO_LARGE',
      ],
      [
        'gzip bomb',
        () => post('/v1/batch', gzipSync(Buffer.alloc(50 * 1024 * 1024, 0x20)), { 'content-encoding': 'gzip' }),
        413,
        'KIMLIK_BODY_TOO_LARGE',
      ],
    ];
    it.each(cases)('%s', async (_name, send, status, code) => {
      const before = (await c.storedEvents()).length;
      const r = await send();
      expect(r.status).toBe(status);
      expect(r.body.error?.code).toBe(code);
      expect((r.body.error as { message?: string }).message?.length).toBeGreaterThan(10);
      expect((await c.storedEvents()).length).toBe(before);
    });

    const eventCases: [string, unknown, string][] = [
      [
        '__proto__ key',
        JSON.parse('{"type":"track","userId":"u","event":"e","properties":{"__proto__":{"polluted":true}}}'),
        'KIMLIK_EVENT_FORBIDDEN_KEY',
      ],
      [
        'constructor key',
        { type: 'track', userId: 'u', event: 'e', traits: { constructor: { prototype: {} } } },
        'KIMLIK_EVENT_FORBIDDEN_KEY',
      ],
      [
        'deep nesting',
        { type: 'track', userId: 'u', event: 'e', properties: JSON.parse(`${'{"a":'.repeat(500)}1${'}'.repeat(500)}`) },
        'KIMLIK_EVENT_TOO_DEEP',
      ],
      [
        'huge array',
        { type: 'track', userId: 'u', event: 'e', properties: { a: new Array(10_001).fill(0) } },
        'KIMLIK_EVENT_TOO_MANY_ITEMS',
      ],
      ['lone surrogate', JSON.parse('{"type":"track","userId":"u","event":"\\ud800"}'), 'KIMLIK_EVENT_STRING_INVALID'],
      [
        'event over 32 KB',
        { type: 'track', userId: 'u', event: 'e', properties: { s: 'é'.repeat(17_000) } },
        'KIMLIK_EVENT_TOO_LARGE',
      ],
      [
        'messageId of 100 chars',
        { type: 'track', userId: 'u', event: 'e', messageId: 'm'.repeat(100) },
        'KIMLIK_EVENT_MESSAGE_ID_INVALID',
      ],
      [
        'bad timestamp',
        { type: 'track', userId: 'u', event: 'e', timestamp: 'yesterday' },
        'KIMLIK_EVENT_TIMESTAMP_INVALID',
      ],
      [
        'properties not an object',
        { type: 'track', userId: 'u', event: 'e', properties: [1] },
        'KIMLIK_EVENT_FIELD_INVALID',
      ],
      ['userId an object', { type: 'track', userId: { id: 1 }, event: 'e' }, 'KIMLIK_EVENT_FIELD_INVALID'],
      ['alias without previousId', { type: 'alias', userId: 'u' }, 'KIMLIK_EVENT_FIELD_MISSING'],
      ['group without groupId', { type: 'group', userId: 'u' }, 'KIMLIK_EVENT_FIELD_MISSING'],
    ];
    it.each(eventCases)('event with %s is rejected alone', async (_name, bad, code) => {
      const good = track();
      const r = await post('/v1/batch', { batch: [good, bad] });
      expect(r.status).toBe(200);
      expect(r.body).toMatchObject({ accepted: 1, rejected: [{ index: 1, code }] });
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    });

    it('a write key never reads: admin APIs need the admin key', async () => {
      for (const auth of ['', basic(c.writeKey), `Bearer ${c.writeKey}`, 'Bearer wrong']) {
        const res = await fetch(`${c.url}/v1/events`, { headers: { authorization: auth } });
        expect(res.status).toBe(401);
        expect(((await res.json()) as { error: { code: string } }).error.code).toBe('KIMLIK_ADMIN_AUTH_REQUIRED');
      }
    });
  });

  describe('configured limits', () => {
    it('refuses a batch with more events than maxBatchEvents, naming the limit', async () => {
      const small = await startTestCollector({ maxBatchEvents: 10, database: store.database() });
      try {
        const res = await fetch(`${small.url}/v1/batch`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: basic(small.writeKey) },
          body: JSON.stringify({ batch: Array.from({ length: 11 }, () => track()) }),
        });
        expect(res.status).toBe(400);
        const body = (await res.json()) as { error: { code: string; message: string } };
        expect(body.error.code).toBe('KIMLIK_BATCH_TOO_MANY_EVENTS');
        expect(body.error.message).toMatch(/limit is 10/);
        expect(await small.storedEvents()).toHaveLength(0);
      } finally {
        await small.close();
      }
    });

    it('maxMessageIdLength raises the messageId limit (ids from a system with longer keys)', async () => {
      const long = await startTestCollector({ maxMessageIdLength: 200, database: store.database() });
      try {
        const send = (messageId: string) =>
          fetch(`${long.url}/v1/batch`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: basic(long.writeKey) },
            body: JSON.stringify({ batch: [{ ...track(), messageId }] }),
          });
        expect((await send('m'.repeat(150))).status).toBe(200);
        const over = (await (await send('n'.repeat(200))).json()) as { rejected: { reason: string }[] };
        expect(over.rejected[0]?.reason).toBe('messageId is 200 characters; it must be shorter than 200');
        expect((await long.storedEvents()).map((e) => e.messageId)).toEqual(['m'.repeat(150)]);
      } finally {
        await long.close();
      }
    });
  });

  describe('operations endpoints', () => {
    it('healthz, readyz and metrics', async () => {
      expect((await fetch(`${c.url}/healthz`)).status).toBe(200);
      const ready = await fetch(`${c.url}/readyz`);
      expect(await ready.json()).toEqual({ status: 'ready', store: store.name });
      const metrics = await (await fetch(`${c.url}/metrics`)).text();
      expect(metrics).toMatch(/^kimlik_events_accepted_total \d+$/m);
      expect(metrics).toMatch(/kimlik_events_rejected_total\{code="KIMLIK_EVENT_/);
      expect(metrics).toMatch(/^kimlik_events_deduplicated_total [1-9]\d*$/m);
      expect(metrics).toMatch(/kimlik_http_request_duration_seconds_bucket\{route="\/v1\/batch",le="0.1"\}/);
      expect(metrics).toMatch(/kimlik_commit_batch_events_count [1-9]/);
    });

    it('lists events newest first with a cursor', async () => {
      const first = await fetch(`${c.url}/v1/events?limit=2`, { headers: { authorization: `Bearer ${c.adminKey}` } });
      const page = (await first.json()) as { events: { id: string }[]; nextCursor: string };
      expect(page.events).toHaveLength(2);
      expect(Number(page.events[0]?.id)).toBeGreaterThan(Number(page.events[1]?.id));
      const next = await fetch(`${c.url}/v1/events?limit=2&before=${page.nextCursor}`, {
        headers: { authorization: `Bearer ${c.adminKey}` },
      });
      const page2 = (await next.json()) as { events: { id: string }[] };
      expect(Number(page2.events[0]?.id)).toBeLessThan(Number(page.events[1]?.id));
      const bad = await fetch(`${c.url}/v1/events?limit=0`, { headers: { authorization: `Bearer ${c.adminKey}` } });
      expect(bad.status).toBe(400);
    });
  });
});
