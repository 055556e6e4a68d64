import {
  DELIVERY_ERROR_CODES,
  type DeliveryError,
  type DeliveryOptions,
  type KimlikError,
  resolveDeliveryOptions,
  TransportError,
  type TransportResult,
} from '@kimlik/core';
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import { type SendPorts, SendQueue } from './send-queue.js';

// Fake time: intervals, backoff and "nothing happens for a while" are advanced, never waited.
beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});
const tick = (ms = 5) => vi.advanceTimersByTimeAsync(ms);
const until = async (ok: () => boolean, ms = 2000) => {
  for (const end = Date.now() + ms; !ok(); await tick()) if (Date.now() > end) throw new Error('timed out');
};

/** A queue over a scripted collector: each request's ids are recorded, `answer` decides its fate. */
function harness(options: DeliveryOptions, answer: (ids: string[]) => TransportResult | Error = () => ({})) {
  const requests: string[][] = [];
  const removed: string[] = [];
  const errors: KimlikError[] = [];
  let open = true;
  let inFlight = 0;
  let most = 0;
  const o = resolveDeliveryOptions({ flushIntervalMs: 20, retryBaseMs: 10, retryMaxMs: 40, ...options });
  const ports: SendPorts = {
    post: async (body) => {
      const parsed = JSON.parse(body) as { batch: { messageId: string }[]; writeKey: string; sentAt: string };
      expect(parsed.writeKey).toBe('wk');
      const ids = parsed.batch.map((e) => e.messageId);
      requests.push(ids);
      most = Math.max(most, ++inFlight);
      await new Promise((r) => setTimeout(r, 2));
      inFlight--;
      const a = answer(ids);
      if (a instanceof Error) throw a;
      return a;
    },
    remove: (ids) => removed.push(...ids),
    open: () => open,
    report: (e) => errors.push(e),
  };
  const make = () => new SendQueue(o, ports, ',"writeKey":"wk"}');
  const queue = make();
  queue.restore([]);
  const add = (...ids: string[]) => ids.map((id) => queue.add(id, JSON.stringify({ messageId: id })));
  return {
    queue,
    ports,
    make,
    add,
    requests,
    removed,
    errors,
    sent: () => requests.flat(),
    most: () => most,
    setOpen: (v: boolean) => {
      open = v;
    },
  };
}

const ids = (n: number, from = 0) => Array.from({ length: n }, (_, i) => `e${String(from + i).padStart(4, '0')}`);

describe('SendQueue', () => {
  test('sends at flushAt, cut to maxBatchEvents, one request at a time and in order', async () => {
    const h = harness({ flushAt: 5, maxBatchEvents: 4 });
    h.add(...ids(13));
    await until(() => h.removed.length === 13);
    expect(h.requests.map((r) => r.length)).toEqual([4, 4, 4, 1]);
    expect(h.sent()).toEqual(ids(13));
    expect(h.most()).toBe(1);
    expect(h.queue.q.size).toBe(0);
  });

  test('fewer than flushAt wait flushIntervalMs; flush() sends them at once and resolves when settled', async () => {
    const h = harness({ flushAt: 100, flushIntervalMs: 60_000 });
    h.add(...ids(3));
    await tick(30);
    expect(h.requests).toEqual([]);
    let settled = false;
    void h.queue.flush(5000).then(() => {
      settled = true;
    });
    await until(() => settled);
    expect(h.sent()).toEqual(ids(3));
    const timed = harness({ flushAt: 100, flushIntervalMs: 20 });
    timed.add('a');
    await until(() => timed.removed.length === 1);
  });

  test('batches are cut to maxBatchBytes with the envelope', async () => {
    const h = harness({ flushAt: 1, maxEventBytes: 1000, maxBatchBytes: 2000 });
    h.setOpen(false);
    for (const id of ids(6)) h.queue.add(id, JSON.stringify({ messageId: id, pad: 'x'.repeat(600) }));
    h.setOpen(true);
    h.queue.pump();
    await until(() => h.removed.length === 6);
    expect(h.requests.map((r) => r.length)).toEqual([2, 2, 2]);
  });

  test('nothing is sent while closed (offline, no consent); pump() sends when it opens', async () => {
    const h = harness({ flushAt: 1 });
    h.setOpen(false);
    h.add(...ids(3));
    await tick(40);
    expect(h.requests).toEqual([]);
    h.setOpen(true);
    h.queue.pump();
    await until(() => h.removed.length === 3);
    expect(h.sent()).toEqual(ids(3));
  });

  test('retryable failures are retried with backoff, a Retry-After is a floor; nothing lost or reordered', async () => {
    let failures = 3;
    const h = harness({ flushAt: 2 }, () =>
      failures-- > 0 ? new TransportError('503', { status: 503, retryable: true, retryAfterMs: 50 }) : {},
    );
    const start = Date.now();
    h.add(...ids(4));
    await until(() => h.removed.length === 4);
    expect(Date.now() - start).toBeGreaterThanOrEqual(150);
    expect(h.sent().slice(-4)).toEqual(ids(4));
    expect(h.errors).toEqual([]);
  });

  test('maxRetries: a batch that keeps failing is reported and dropped', async () => {
    const h = harness({ flushAt: 1, maxRetries: 2 }, () => new TransportError('down', { retryable: true }));
    h.add('a');
    await until(() => h.removed.length === 1);
    expect(h.requests.length).toBe(3);
    expect(h.errors.map((e) => e.code)).toEqual([DELIVERY_ERROR_CODES.RETRIES_EXHAUSTED]);
  });

  test('rejected events are reported alone (by index or messageId) and the batch leaves the queue', async () => {
    const h = harness({ flushAt: 3 }, (batch) => ({
      rejected: [
        { index: 1, messageId: batch[1] as string, code: 'invalid', reason: 'bad' },
        { index: 0, messageId: batch[2] as string, code: 'invalid', reason: 'moved' },
      ],
    }));
    h.add(...ids(3));
    await until(() => h.removed.length === 3);
    expect(h.errors.flatMap((e) => (e as DeliveryError).messageIds)).toEqual([ids(3)[1], ids(3)[2]]);
  });

  test('a 400 without detail is halved until the bad event is alone: only it is dropped', async () => {
    const bad = ids(8)[5] as string;
    const h = harness({ flushAt: 8 }, (batch) =>
      batch.includes(bad) ? new TransportError('400', { status: 400, retryable: false }) : {},
    );
    h.add(...ids(8));
    await until(() => h.removed.length === 8);
    expect(h.errors.map((e) => (e as DeliveryError).messageIds)).toEqual([[bad]]);
    expect(new Set(h.sent())).toEqual(new Set(ids(8)));
    h.add(...ids(4, 100));
    await until(() => h.removed.length === 12);
    // Isolation over, batches are whole again.
    expect(h.requests.at(-1)?.length).toBe(4);
  });

  test('past maxQueueEvents the oldest events in no request are dropped, reported once per drop', async () => {
    let release: (() => void) | undefined;
    const h = harness({ flushAt: 2, maxBatchEvents: 2, maxQueueEvents: 4 });
    const post = h.ports.post;
    // The first request waits for release(); later ones go through.
    h.ports.post = (body) => {
      h.ports.post = post;
      return new Promise((r) => (release = () => r(post(body))));
    };
    h.add('a', 'b');
    await until(() => release !== undefined);
    // a, b in flight; c..f queued; the bound keeps 4 events: a and b stay, c and d go.
    expect(h.add('c', 'd', 'e', 'f')).toEqual([true, true, true, true]);
    expect([...h.queue.q.keys()]).toEqual(['a', 'b', 'e', 'f']);
    expect(h.errors.map((e) => e.code)).toEqual([DELIVERY_ERROR_CODES.QUEUE_FULL, DELIVERY_ERROR_CODES.QUEUE_FULL]);
    expect(h.removed).toEqual(['c', 'd']);
    release?.();
    await until(() => h.queue.q.size === 0);
    expect(h.sent()).toEqual(['a', 'b', 'e', 'f']);
  });

  test('the byte bound stays exact after sends, rejections, drops, a restore and a stop', async () => {
    const json = (id: string) => JSON.stringify({ messageId: id, pad: 'x'.repeat(70) });
    const size = new TextEncoder().encode(json('e0000')).length;
    const h = harness({ flushAt: 3, maxQueueEvents: 1000, maxQueueBytes: size * 10 }, (batch) => ({
      rejected: [{ index: 0, messageId: batch[0] as string, code: 'invalid', reason: 'bad' }],
    }));
    const add = (from: number, n: number) => {
      for (const id of ids(n, from)) h.queue.add(id, json(id));
    };
    // A first life: sent (one rejected per batch), then 12 queued while closed (2 dropped), restored, stopped.
    add(0, 9);
    await until(() => h.queue.q.size === 0);
    h.setOpen(false);
    add(100, 12);
    expect(h.queue.q.size).toBe(10);
    h.queue.restore([[ids(1, 500)[0] as string, json(ids(1, 500)[0] as string)]]);
    expect(h.queue.q.size).toBe(10);
    h.setOpen(true);
    h.queue.pump();
    await until(() => h.queue.q.size === 0);
    const drops = () => h.errors.filter((e) => e.code === DELIVERY_ERROR_CODES.QUEUE_FULL).length;
    const before = drops();
    // Now exactly 10 events fit and the 11th drops one: the count of bytes came back to zero.
    h.setOpen(false);
    add(1000, 10);
    expect(drops()).toBe(before);
    add(2000, 1);
    expect(drops()).toBe(before + 1);
    h.queue.stop();
    add(3000, 10);
    expect(drops()).toBe(before + 1);
  });

  test('an event over maxEventBytes is refused without blocking the others', async () => {
    const h = harness({ flushAt: 2, maxEventBytes: 100 });
    expect(h.queue.add('big', JSON.stringify({ pad: 'x'.repeat(200) }))).toBe(false);
    h.add('a', 'b');
    await until(() => h.removed.length === 2);
    expect(h.errors.map((e) => e.code)).toEqual([DELIVERY_ERROR_CODES.INVALID_EVENT]);
  });

  test('restore puts the stored queue first; stop() forgets it and ignores the answer in flight', async () => {
    const h = harness({ flushAt: 1 });
    const queue = h.make();
    queue.add('new', '{"messageId":"new"}');
    await tick(20);
    expect(h.requests).toEqual([]);
    queue.restore([
      ['old', '{"messageId":"old"}'],
      ['new', '{"messageId":"new"}'],
    ]);
    await until(() => h.removed.length === 2);
    expect(h.sent()).toEqual(['old', 'new']);
    queue.add('late', '{"messageId":"late"}');
    await until(() => h.requests.length === 2);
    queue.stop();
    await tick(20);
    expect(h.removed).toEqual(['old', 'new']);
    expect(queue.q.size).toBe(0);
  });
});
