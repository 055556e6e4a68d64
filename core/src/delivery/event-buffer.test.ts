import { describe, expect, it } from 'vitest';
import { arrayEventBuffer } from './array-event-buffer.js';
import { type EventBuffer, type EventBufferFactory, idsOf, rejectedIndex } from './event-buffer.js';
import { packedEventBuffer } from './packed-event-buffer.js';

const config = {
  maxBatchBytes: 500_000,
  maxEventBytes: 32_768,
  maxConcurrentRequests: 2,
  bodyFields: { writeKey: 'wk' },
};
const json = (i: number) => JSON.stringify({ messageId: `m-${i}`, name: i % 2 ? 'Çağrı 🎉' : 'plain' });
const utf8 = (s: string) => new TextEncoder().encode(s).length;

function filled(factory: EventBufferFactory): EventBuffer {
  const buffer = factory(config);
  for (let i = 1; i <= 5; i++) {
    expect(buffer.stage(`m-${i}`, json(i))).toBe(utf8(json(i)));
    buffer.push(i);
  }
  buffer.restore(
    [
      { messageId: 'm-old-1', json: '{"old":1}' },
      { messageId: 'm-old-2', json: '{"old":"ü"}' },
    ],
    -1,
  );
  return buffer;
}

// One contract for both buffers: the engine must not be able to tell them apart.
describe.each([
  ['arrayEventBuffer', arrayEventBuffer],
  ['packedEventBuffer', packedEventBuffer],
])('%s', (_, factory) => {
  it('queues restored events in front, oldest first, with their UTF-8 sizes', () => {
    const buffer = filled(factory);
    expect(buffer.length).toBe(7);
    expect(idsOf(buffer)).toEqual(['m-old-1', 'm-old-2', 'm-1', 'm-2', 'm-3', 'm-4', 'm-5']);
    expect([buffer.seq(0), buffer.seq(1), buffer.seq(2)]).toEqual([-1, 0, 1]);
    expect(buffer.size(1)).toBe(utf8('{"old":"ü"}'));
    expect(buffer.bytes).toBe(
      utf8('{"old":1}') + utf8('{"old":"ü"}') + [1, 2, 3, 4, 5].reduce((n, i) => n + utf8(json(i)), 0),
    );
  });

  it('shifts from the head and slices runs by index', () => {
    const buffer = filled(factory);
    const run = buffer.shift(3);
    expect(idsOf(run)).toEqual(['m-old-1', 'm-old-2', 'm-1']);
    expect(buffer.length).toBe(4);
    expect(buffer.seq(0)).toBe(2);
    expect(buffer.bytes).toBe([2, 3, 4, 5].reduce((n, i) => n + utf8(json(i)), 0));
    const tail = run.slice(1, 3);
    expect(idsOf(tail)).toEqual(['m-old-2', 'm-1']);
    expect(tail.bytes).toBe(utf8('{"old":"ü"}') + utf8(json(1)));
    expect(buffer.slice(0, 2).seq(1)).toBe(3);
  });

  it('builds the batch body: the events in order, sentAt, the body fields; bytes match the string', () => {
    const buffer = filled(factory);
    const body = buffer.body(buffer.shift(4), 2, '2026-01-01T00:00:00.000Z');
    expect(body.body).toBe(
      `{"batch":[{"old":1},{"old":"ü"},${json(1)},${json(2)}],"sentAt":"2026-01-01T00:00:00.000Z","writeKey":"wk"}`,
    );
    expect(new TextDecoder().decode(body.bytes)).toBe(body.body);
    expect(body.messageIds).toEqual(['m-old-1', 'm-old-2', 'm-1', 'm-2']);
    expect(body.attempt).toBe(2);
    expect(buffer.envelopeBytes).toBeGreaterThanOrEqual(
      utf8('{"batch":[],"sentAt":"2026-01-01T00:00:00.000Z","writeKey":"wk"}'),
    );
    body.release?.();
  });
});

describe('rejectedIndex', () => {
  const r = (index: number, messageId: string | null) => ({ index, messageId, code: 'X', reason: 'x' });
  it('points by index, or by messageId when that names another event of the batch', () => {
    const ids = ['a', 'b', 'c'];
    expect(rejectedIndex(ids, r(1, 'b'))).toBe(1);
    expect(rejectedIndex(ids, r(1, null))).toBe(1);
    expect(rejectedIndex(ids, r(0, 'c'))).toBe(2);
  });

  it('a messageId the batch does not hold (one over the limit, quoted cut short) leaves the index to say', () => {
    // It answered -1: the event was taken as accepted.
    expect(rejectedIndex(['a', `order-${'x'.repeat(120)}`], r(1, `order-${'x'.repeat(93)}`))).toBe(1);
  });
});
