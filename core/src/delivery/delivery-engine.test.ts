import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { TransportError } from '../errors.js';
import type { WireEvent } from '../protocol.js';
import { arrayEventBuffer } from './array-event-buffer.js';
import { DeliveryEngine } from './delivery-engine.js';
import type { DeliveryPorts } from './engine-types.js';
import { DELIVERY_ERROR_CODES, type DeliveryError } from './errors.js';
import type { EventBufferFactory } from './event-buffer.js';
import type { QueuedEvent } from './event-queue.js';
import { type DeliveryOptions, resolveDeliveryOptions } from './options.js';
import { outcomeBook } from './outcome-book.js';
import { packedEventBuffer } from './packed-event-buffer.js';
import type { OutgoingBatch, PersistedEvent, QueueStorage, TransportResult } from './ports.js';

interface Call {
  batch: OutgoingBatch;
  events: WireEvent[];
  resolve: (r: TransportResult) => void;
  reject: (e: unknown) => void;
}

/** A transport whose requests the test answers by hand. */
function manualTransport() {
  const calls: Call[] = [];
  return {
    calls,
    transport: {
      send(batch: OutgoingBatch) {
        return new Promise<TransportResult>((resolve, reject) => {
          const events = (JSON.parse(batch.body) as { batch: WireEvent[] }).batch;
          calls.push({ batch, events, resolve, reject });
        });
      },
    },
  };
}

/**
 * A transport that, like the browser's while offline or without consent, waits before it reads
 * the batch: the request starts (and its body is read) only once the test opens the gate.
 */
function gatedTransport() {
  const t = manualTransport();
  const gate: { open: () => void; withdrawn: unknown[] } = { open: () => undefined, withdrawn: [] };
  const opened = new Promise<void>((resolve) => {
    gate.open = resolve;
  });
  return {
    ...t,
    gate,
    transport: {
      send: (batch: OutgoingBatch) =>
        opened.then(() =>
          t.transport.send(batch).catch((err: unknown) => {
            gate.withdrawn.push(err);
            throw err;
          }),
        ),
    },
  };
}

/** The event buffer under test; every suite below runs once per buffer. */
let events: EventBufferFactory = arrayEventBuffer;

function engine(options: DeliveryOptions, ports: Partial<DeliveryPorts<QueuedEvent>> = {}) {
  const t = manualTransport();
  const errors: DeliveryError[] = [];
  const e = new DeliveryEngine(resolveDeliveryOptions(options), {
    transport: t.transport,
    random: () => 1,
    events,
    receipts: outcomeBook,
    onError: (err) => errors.push(err as DeliveryError),
    ...ports,
  });
  let n = 0;
  const add = (props: Record<string, unknown> = {}) => {
    const id = `m-${++n}`;
    return e.enqueue(id, JSON.stringify({ type: 'track', event: 'e', userId: 'u', messageId: id, properties: props }));
  };
  return { engine: e, calls: t.calls, errors, add };
}

/**
 * An engine whose one batch is formed by the interval and held unread by a gated transport (as
 * offline), with a queue bound of `maxQueueEvents`: what the queue-bound tests fill past the bound.
 */
function gatedEngine(maxQueueEvents: number, maxConcurrentRequests = 1) {
  const g = gatedTransport();
  const disk = memoryDisk();
  const e = engine(
    { flushAt: 100, flushIntervalMs: 100, maxQueueEvents, maxConcurrentRequests },
    { transport: g.transport, storage: disk.storage },
  );
  return { ...e, g, disk };
}

/** A persistent storage port over a Map, which the test reads. */
function memoryDisk(initial: PersistedEvent[] = []) {
  const rows = new Map(initial.map((p) => [p.messageId, p.json]));
  const storage: QueueStorage = {
    persistent: true,
    load: () => [...rows].map(([messageId, json]) => ({ messageId, json })),
    append: (id, json) => {
      rows.set(id, json);
    },
    remove: (ids) => {
      for (const id of ids) rows.delete(id);
    },
  };
  return { rows, storage };
}

const ok = { rejected: [] };

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe.each([
  ['arrayEventBuffer', arrayEventBuffer],
  ['packedEventBuffer', packedEventBuffer],
])('with %s', (_, buffer) => {
  beforeEach(() => {
    events = buffer;
  });

  describe('DeliveryEngine batching', () => {
    it('sends a batch as soon as flushAt events are queued', () => {
      const { calls, add } = engine({ flushAt: 3 });
      add();
      add();
      expect(calls).toHaveLength(0);
      add();
      expect(calls).toHaveLength(1);
      expect(calls[0]?.batch.messageIds).toEqual(['m-1', 'm-2', 'm-3']);
      const body = JSON.parse(calls[0]?.batch.body ?? '{}') as { sentAt: string };
      expect(typeof body.sentAt).toBe('string');
    });

    it('sends a partial batch after flushIntervalMs', async () => {
      const { calls, add } = engine({ flushAt: 100, flushIntervalMs: 500 });
      add();
      add();
      await vi.advanceTimersByTimeAsync(499);
      expect(calls).toHaveLength(0);
      await vi.advanceTimersByTimeAsync(1);
      expect(calls).toHaveLength(1);
      expect(calls[0]?.events).toHaveLength(2);
    });

    it('an awaited receipt sends the queue at once, one request for the receipts awaited in a tick', async () => {
      const { calls, add } = engine({ flushAt: 100, flushIntervalMs: 60_000 });
      add();
      add();
      await vi.advanceTimersByTimeAsync(1000);
      // Nobody awaits: the events wait for the interval as before.
      expect(calls).toHaveLength(0);
      const third = add();
      const fourth = add();
      const settled = Promise.all([third, fourth]);
      add();
      await vi.advanceTimersByTimeAsync(0);
      expect(calls).toHaveLength(1);
      // The whole queue goes, as when the interval fires.
      expect(calls[0]?.batch.messageIds).toEqual(['m-1', 'm-2', 'm-3', 'm-4', 'm-5']);
      calls[0]?.resolve(ok);
      await expect(settled).resolves.toMatchObject([{ delivered: true }, { delivered: true }]);
      await vi.advanceTimersByTimeAsync(1000);
      expect(calls).toHaveLength(1);
    });

    it('splits batches by bytes and by count', async () => {
      const {
        engine: e,
        calls,
        add,
      } = engine({
        flushAt: 1000,
        maxBatchEvents: 4,
        maxBatchBytes: 1200,
        maxEventBytes: 1000,
        maxConcurrentRequests: 10,
      });
      for (let i = 0; i < 10; i++) add({ pad: 'x'.repeat(i < 5 ? 10 : 400) });
      const flushed = e.flush();
      await vi.advanceTimersByTimeAsync(0);
      for (const c of calls) {
        expect(c.events.length).toBeLessThanOrEqual(4);
        expect(c.batch.body.length).toBeLessThanOrEqual(1200);
      }
      expect(calls.flatMap((c) => c.batch.messageIds)).toHaveLength(10);
      for (const c of calls) c.resolve(ok);
      await expect(flushed).resolves.toEqual({ pending: 0, timedOut: false });
    });
  });

  describe('DeliveryEngine retries', () => {
    it('retries retryable failures with backoff and honours Retry-After', async () => {
      const { engine: e, calls, add, errors } = engine({ flushAt: 1, retryBaseMs: 100, retryMaxMs: 1000 });
      const warn = vi.fn();
      const receipt = add();
      calls[0]?.reject(new TransportError('busy', { status: 429, retryable: true, retryAfterMs: 5000 }));
      await vi.advanceTimersByTimeAsync(4999);
      expect(calls).toHaveLength(1);
      await vi.advanceTimersByTimeAsync(1);
      expect(calls).toHaveLength(2);
      expect(calls[1]?.batch.messageIds).toEqual(['m-1']);
      expect(calls[1]?.batch.attempt).toBe(1);
      calls[1]?.reject(new TypeError('socket hang up'));
      await vi.advanceTimersByTimeAsync(200);
      expect(calls).toHaveLength(3);
      calls[2]?.resolve(ok);
      await expect(receipt).resolves.toEqual({ messageId: 'm-1', delivered: true });
      expect(errors).toHaveLength(0);
      expect(e.getStats()).toMatchObject({ delivered: 1, retries: 2 });
      expect(warn).not.toHaveBeenCalled();
    });

    it('however long the outage, the next attempt is at most retryMaxMs away (delivery resumes promptly)', async () => {
      const { calls, add } = engine({ flushAt: 1, retryBaseMs: 100, retryMaxMs: 1000 });
      const receipt = add();
      for (let attempt = 0; attempt < 40; attempt++) {
        calls[attempt]?.reject(new TypeError('connect ECONNREFUSED 127.0.0.1'));
        await vi.advanceTimersByTimeAsync(1000);
        expect(calls).toHaveLength(attempt + 2);
      }
      calls[40]?.resolve(ok);
      await expect(receipt).resolves.toEqual({ messageId: 'm-1', delivered: true });
    });

    it('keeps one event out of two concurrent requests', async () => {
      const {
        engine: e,
        calls,
        add,
      } = engine({ flushAt: 2, maxBatchEvents: 2, maxConcurrentRequests: 2, retryBaseMs: 10 });
      for (let i = 0; i < 8; i++) add();
      expect(calls).toHaveLength(2);
      const inFlight = new Set<string>();
      const track = (c: Call) => {
        for (const id of c.batch.messageIds) {
          expect(inFlight.has(id)).toBe(false);
          inFlight.add(id);
        }
      };
      calls.forEach(track);
      let answered = 0;
      const flushed = e.flush();
      while (answered < calls.length) {
        const c = calls[answered++] as Call;
        for (const id of c.batch.messageIds) inFlight.delete(id);
        if (answered % 3 === 0) c.reject(new TransportError('503', { status: 503, retryable: true }));
        else c.resolve(ok);
        const before = calls.length;
        await vi.advanceTimersByTimeAsync(50);
        calls.slice(before).forEach(track);
      }
      await expect(flushed).resolves.toMatchObject({ pending: 0 });
      expect(e.getStats()).toMatchObject({ delivered: 8, queued: 0, inFlight: 0 });
    });

    it('gives up after maxRetries and reports the events', async () => {
      const { add, calls, errors } = engine({ flushAt: 1, maxRetries: 1, retryBaseMs: 10 });
      const r = add();
      calls[0]?.reject(new TransportError('503', { status: 503, retryable: true }));
      await vi.advanceTimersByTimeAsync(20);
      calls[1]?.reject(new TransportError('503', { status: 503, retryable: true }));
      const result = await r;
      expect(result.delivered).toBe(false);
      expect(errors[0]?.code).toBe(DELIVERY_ERROR_CODES.RETRIES_EXHAUSTED);
    });
  });

  describe('DeliveryEngine rejections', () => {
    it('drops only the events the collector rejected', async () => {
      const { add, calls, errors, engine: e } = engine({ flushAt: 3 });
      const receipts = [add(), add(), add()];
      calls[0]?.resolve({ rejected: [{ index: 1, messageId: 'm-2', code: 'KIMLIK_EVENT_TOO_LARGE', reason: 'big' }] });
      const results = await Promise.all(receipts);
      expect(results.map((r) => r.delivered)).toEqual([true, false, true]);
      expect(errors).toHaveLength(1);
      expect(errors[0]?.messageIds).toEqual(['m-2']);
      expect(errors[0]?.reason).toBe('KIMLIK_EVENT_TOO_LARGE');
      expect(e.getStats()).toMatchObject({ delivered: 2, rejected: 1 });
    });

    it('isolates a poison event when a 400 carries no per-event detail', async () => {
      const { add, calls, engine: e } = engine({ flushAt: 4, maxConcurrentRequests: 1 });
      for (let i = 0; i < 4; i++) add();
      const flushed = e.flush();
      for (let i = 0; i < 20 && i < calls.length; i++) {
        const c = calls[i] as Call;
        if (c.batch.messageIds.includes('m-3')) c.reject(new TransportError('bad', { status: 400, retryable: false }));
        else c.resolve(ok);
        await vi.advanceTimersByTimeAsync(0);
      }
      await flushed;
      expect(e.getStats()).toMatchObject({ delivered: 3, rejected: 1 });
    });

    it('after a 400 without detail, sends the halves in order: each first half before the second', async () => {
      const { add, calls, engine: e } = engine({ flushAt: 9, maxConcurrentRequests: 1 });
      for (let i = 0; i < 9; i++) add();
      const flushed = e.flush();
      const stored: string[] = [];
      for (let i = 0; i < 20 && i < calls.length; i++) {
        const c = calls[i] as Call;
        if (c.batch.messageIds.includes('m-5')) c.reject(new TransportError('bad', { status: 400, retryable: false }));
        else {
          stored.push(...c.batch.messageIds);
          c.resolve(ok);
        }
        await vi.advanceTimersByTimeAsync(0);
      }
      await flushed;
      expect(stored).toEqual(['m-1', 'm-2', 'm-3', 'm-4', 'm-6', 'm-7', 'm-8', 'm-9']);
      expect(e.getStats()).toMatchObject({ delivered: 8, rejected: 1 });
    });

    it('drops the whole batch on a 401 and says why', async () => {
      const { add, calls, errors } = engine({ flushAt: 2 });
      add();
      add();
      calls[0]?.reject(new TransportError('bad key', { status: 401, retryable: false }));
      await vi.advanceTimersByTimeAsync(0);
      expect(calls).toHaveLength(1);
      expect(errors[0]?.code).toBe(DELIVERY_ERROR_CODES.REJECTED);
      expect(errors[0]?.messageIds).toEqual(['m-1', 'm-2']);
    });
  });

  describe('DeliveryEngine bounds and flush', () => {
    it('drops the oldest queued events when full, counted', async () => {
      const { add, engine: e, errors } = engine({ flushAt: 100, maxQueueEvents: 3 });
      const first = add();
      add();
      add();
      add();
      expect(e.getStats()).toMatchObject({ queued: 3, dropped: 1 });
      expect((await first).error?.code).toBe(DELIVERY_ERROR_CODES.QUEUE_FULL);
      expect(errors[0]?.messageIds).toEqual(['m-1']);
    });

    it('reports a full queue’s drops once per burst: the first at once, the rest counted as the window ends', async () => {
      const { add, engine: e, errors } = engine({ flushAt: 1000, flushIntervalMs: 60_000, maxQueueEvents: 10 });
      const receipts = Array.from({ length: 10_010 }, () => add());
      expect(e.getStats()).toMatchObject({ dropped: 10_000 });
      // One onError call (and one DeliveryError kept per receipt) per dropped event before.
      expect(errors.map((err) => [err.code, err.messageIds])).toEqual([[DELIVERY_ERROR_CODES.QUEUE_FULL, ['m-1']]]);
      await vi.advanceTimersByTimeAsync(5000);
      expect(errors).toHaveLength(2);
      expect(errors[1]?.code).toBe(DELIVERY_ERROR_CODES.QUEUE_FULL);
      expect(errors[1]?.message).toMatch(/dropped 9999 more events .*the first 100/);
      expect(errors[1]?.messageIds).toEqual(Array.from({ length: 100 }, (_, i) => `m-${i + 2}`));
      await expect(receipts[5000]).resolves.toMatchObject({
        delivered: false,
        error: { code: DELIVERY_ERROR_CODES.QUEUE_FULL },
      });
      // A later burst is told at once again, and what it holds back is told at stop().
      add();
      add();
      expect(errors.map((err) => err.messageIds)).toEqual([['m-1'], expect.any(Array), ['m-10001']]);
      const stopping = e.stop({ timeoutMs: 0 });
      await vi.advanceTimersByTimeAsync(0);
      await stopping;
      expect(errors.slice(3).map((err) => [err.code, err.messageIds])).toEqual([
        [DELIVERY_ERROR_CODES.QUEUE_FULL, ['m-10002']],
        [DELIVERY_ERROR_CODES.STOPPED, expect.any(Array)],
      ]);
    });

    it('a batch the transport has not read yet gives up its oldest events to the bound', async () => {
      const { add, engine: e, errors, g, disk } = gatedEngine(5);
      const receipts = [add(), add(), add(), add(), add()];
      // The interval forms a batch of all five; the transport holds it, unread (offline).
      await vi.advanceTimersByTimeAsync(100);
      expect(e.getStats()).toMatchObject({ inFlight: 5, queued: 0 });
      receipts.push(add(), add(), add());
      expect(e.getStats()).toMatchObject({ inFlight: 2, queued: 3, dropped: 3 });
      // The first drop of a burst is told at once, the others when the flush settles.
      expect(errors.map((err) => [err.code, err.messageIds])).toEqual([[DELIVERY_ERROR_CODES.QUEUE_FULL, ['m-1']]]);
      expect([...disk.rows.keys()]).toEqual(['m-4', 'm-5', 'm-6', 'm-7', 'm-8']);
      const flushed = e.flush();
      g.gate.open();
      await vi.advanceTimersByTimeAsync(0);
      expect(g.calls.map((c) => c.batch.messageIds)).toEqual([['m-4', 'm-5']]);
      g.calls[0]?.resolve(ok);
      await vi.advanceTimersByTimeAsync(0);
      expect(g.calls.map((c) => c.batch.messageIds)).toEqual([
        ['m-4', 'm-5'],
        ['m-6', 'm-7', 'm-8'],
      ]);
      g.calls[1]?.resolve(ok);
      await expect(flushed).resolves.toEqual({ pending: 0, timedOut: false });
      const results = await Promise.all(receipts);
      expect(results.map((r) => r.delivered)).toEqual([false, false, false, true, true, true, true, true]);
      expect(errors.map((err) => [err.code, err.messageIds])).toEqual([
        [DELIVERY_ERROR_CODES.QUEUE_FULL, ['m-1']],
        [DELIVERY_ERROR_CODES.QUEUE_FULL, ['m-2', 'm-3']],
      ]);
      expect(e.getStats()).toMatchObject({ enqueued: 8, delivered: 5, dropped: 3, queued: 0, inFlight: 0 });
      expect(disk.rows.size).toBe(0);
    });

    it('a batch the bound emptied before the transport read it takes the queued events instead', async () => {
      const { add, engine: e, errors, g, disk } = gatedEngine(2);
      add();
      add();
      await vi.advanceTimersByTimeAsync(100);
      add();
      add();
      add();
      expect(errors.flatMap((err) => err.messageIds)).toEqual(['m-1']);
      expect(e.getStats()).toMatchObject({ inFlight: 0, queued: 2, dropped: 3 });
      expect([...disk.rows.keys()]).toEqual(['m-4', 'm-5']);
      const flushed = e.flush();
      g.gate.open();
      await vi.advanceTimersByTimeAsync(0);
      expect(g.calls.map((c) => c.batch.messageIds)).toEqual([['m-4', 'm-5']]);
      g.calls[0]?.resolve(ok);
      await expect(flushed).resolves.toEqual({ pending: 0, timedOut: false });
      expect(g.gate.withdrawn).toHaveLength(0);
      expect(errors.map((err) => err.messageIds)).toEqual([['m-1'], ['m-2', 'm-3']]);
      expect(e.getStats()).toMatchObject({ delivered: 2, dropped: 3, queued: 0, inFlight: 0 });
      expect(disk.rows.size).toBe(0);
    });

    it('a batch the bound emptied, with nothing queued to take, fails when read and sends nothing', async () => {
      const { add, engine: e, errors, g } = gatedEngine(2, 2);
      add();
      add();
      await vi.advanceTimersByTimeAsync(100);
      add();
      add();
      // The second request slot takes the queued events; the first batch is left empty.
      await vi.advanceTimersByTimeAsync(100);
      const flushed = e.flush();
      g.gate.open();
      await vi.advanceTimersByTimeAsync(0);
      expect(g.gate.withdrawn).toEqual([expect.objectContaining({ code: DELIVERY_ERROR_CODES.QUEUE_FULL })]);
      expect(g.calls.map((c) => c.batch.messageIds)).toEqual([['m-3', 'm-4']]);
      g.calls[0]?.resolve(ok);
      await expect(flushed).resolves.toEqual({ pending: 0, timedOut: false });
      expect(errors.flatMap((err) => err.messageIds)).toEqual(['m-1', 'm-2']);
      expect(e.getStats()).toMatchObject({ delivered: 2, dropped: 2, queued: 0, inFlight: 0 });
      // Later events still go out.
      add();
      const again = e.flush();
      await vi.advanceTimersByTimeAsync(0);
      expect(g.calls.map((c) => c.batch.messageIds)).toEqual([['m-3', 'm-4'], ['m-5']]);
      g.calls[1]?.resolve(ok);
      await expect(again).resolves.toEqual({ pending: 0, timedOut: false });
    });

    it('a batch waiting for a retry gives up its oldest events; one in flight stays whole', async () => {
      const disk = memoryDisk();
      const {
        add,
        calls,
        engine: e,
        errors,
      } = engine(
        { flushAt: 3, maxQueueEvents: 4, retryBaseMs: 100, retryMaxMs: 100, maxConcurrentRequests: 1 },
        { storage: disk.storage },
      );
      add();
      add();
      add();
      // In flight (its body read): the bound cannot take from it, so the queue's own events go.
      add();
      add();
      expect(errors.map((err) => err.messageIds)).toEqual([['m-4']]);
      calls[0]?.reject(new TransportError('503', { status: 503, retryable: true }));
      await vi.advanceTimersByTimeAsync(0);
      // Waiting for its retry, the batch holds the oldest events: they go first.
      add();
      expect([...disk.rows.keys()]).toEqual(['m-2', 'm-3', 'm-5', 'm-6']);
      const flushed = e.flush();
      await vi.advanceTimersByTimeAsync(100);
      expect(calls[1]?.batch.messageIds).toEqual(['m-2', 'm-3']);
      expect(calls[1]?.batch.attempt).toBe(1);
      calls[1]?.resolve(ok);
      await vi.advanceTimersByTimeAsync(0);
      expect(calls[2]?.batch.messageIds).toEqual(['m-5', 'm-6']);
      calls[2]?.resolve(ok);
      await expect(flushed).resolves.toEqual({ pending: 0, timedOut: false });
      expect(e.getStats()).toMatchObject({ delivered: 4, dropped: 2, queued: 0, inFlight: 0 });
      // The second drop of the burst is told as the flush settles.
      expect(errors.map((err) => err.messageIds)).toEqual([['m-4'], ['m-1']]);
      expect(disk.rows.size).toBe(0);
    });

    it('backpressure keeps events up to twice the bound, then drops the newest', () => {
      const { add, engine: e } = engine({ flushAt: 100, maxQueueEvents: 2, queueFullPolicy: 'backpressure' });
      for (let i = 0; i < 5; i++) add();
      expect(e.getStats()).toMatchObject({ queued: 4, dropped: 1 });
    });

    it('flush resolves only after the in-flight request is acknowledged', async () => {
      const { add, calls, engine: e } = engine({ flushAt: 2 });
      add();
      add();
      add();
      let done = false;
      const flushed = e.flush().then((r) => {
        done = true;
        return r;
      });
      await vi.advanceTimersByTimeAsync(0);
      expect(calls.map((c) => c.batch.messageIds)).toEqual([['m-1', 'm-2'], ['m-3']]);
      calls[1]?.resolve(ok);
      await vi.advanceTimersByTimeAsync(0);
      expect(done).toBe(false);
      calls[0]?.resolve(ok);
      await expect(flushed).resolves.toEqual({ pending: 0, timedOut: false });
    });

    it('flush with a timeout reports what is still pending', async () => {
      const { add, engine: e } = engine({ flushAt: 1 });
      add();
      const flushed = e.flush({ timeoutMs: 1000 });
      await vi.advanceTimersByTimeAsync(1000);
      await expect(flushed).resolves.toEqual({ pending: 1, timedOut: true });
    });
  });

  describe('DeliveryEngine storage', () => {
    it('restores stored events, sends them at once and removes them once acknowledged', async () => {
      const disk = memoryDisk([
        { messageId: 'old-1', json: '{"type":"track","event":"e","userId":"u","messageId":"old-1"}' },
      ]);
      const { add, calls, engine: e } = engine({ flushAt: 10 }, { storage: disk.storage });
      await e.start();
      add();
      expect(disk.rows.size).toBe(2);
      const flushed = e.flush();
      await vi.advanceTimersByTimeAsync(0);
      expect(calls.map((c) => c.batch.messageIds)).toEqual([['old-1'], ['m-1']]);
      for (const c of calls) c.resolve(ok);
      await flushed;
      expect(disk.rows.size).toBe(0);
    });

    it('stop keeps unacknowledged events in persistent storage and reports them', async () => {
      const disk = memoryDisk();
      const { add, engine: e } = engine({ flushAt: 1 }, { storage: disk.storage });
      add();
      add();
      const stopping = e.stop({ timeoutMs: 2000 });
      await vi.advanceTimersByTimeAsync(2000);
      await expect(stopping).resolves.toEqual({ pending: 2, timedOut: true, persisted: 2, dropped: 0 });
      expect(disk.rows.size).toBe(2);
      expect((await add()).error?.code).toBe(DELIVERY_ERROR_CODES.STOPPED);
    });

    it('stop counts an event whose storage write failed (a full disk) as dropped, not kept', async () => {
      const disk = memoryDisk();
      const append = disk.storage.append;
      let writes = 0;
      disk.storage.append = (id, json) => {
        if (++writes > 2) throw new Error('ENOSPC: no space left on device');
        return append(id, json);
      };
      const { add, engine: e, errors } = engine({ flushAt: 1 }, { storage: disk.storage });
      for (let i = 0; i < 5; i++) add();
      const stopping = e.stop({ timeoutMs: 2000 });
      await vi.advanceTimersByTimeAsync(2000);
      await expect(stopping).resolves.toEqual({ pending: 5, timedOut: true, persisted: 2, dropped: 3 });
      expect(disk.rows.size).toBe(2);
      expect(errors.filter((x) => x.code === DELIVERY_ERROR_CODES.STORAGE)).toHaveLength(3);
      expect(e.getStats().dropped).toBe(3);
    });

    it('stop without persistent storage counts the events as dropped', async () => {
      const { add, engine: e } = engine({ flushAt: 1 });
      add();
      const stopping = e.stop({ timeoutMs: 10 });
      await vi.advanceTimersByTimeAsync(10);
      await expect(stopping).resolves.toMatchObject({ persisted: 0, dropped: 1 });
    });
  });

  describe('DeliveryEngine when the process may end', () => {
    it('unacknowledged() names the events in flight and queued, oldest first, without settling or dropping them', async () => {
      const disk = memoryDisk();
      const append = disk.storage.append;
      disk.storage.append = (id, json) => {
        if (id === 'm-3') throw new Error('ENOSPC: no space left on device');
        return append(id, json);
      };
      const {
        engine: e,
        calls,
        add,
        errors,
      } = engine({ flushAt: 2, maxConcurrentRequests: 1 }, { storage: disk.storage });
      const first = add();
      add();
      add();
      expect(e.unacknowledged()).toEqual({ messageIds: ['m-1', 'm-2', 'm-3'], onStorageOnly: 0, unstored: 1 });
      expect(e.getStats()).toMatchObject({ dropped: 0, inFlight: 2, queued: 1 });
      expect(errors.map((x) => x.code)).toEqual([DELIVERY_ERROR_CODES.STORAGE]);
      calls[0]?.resolve(ok);
      await expect(first).resolves.toEqual({ messageId: 'm-1', delivered: true });
      expect(e.unacknowledged().messageIds).toEqual(['m-3']);
    });

    it('hold() keeps a pending retry alive, as a flush waiter does, until released', async () => {
      const retries: boolean[] = [];
      const {
        engine: e,
        calls,
        add,
      } = engine(
        { flushAt: 1, retryBaseMs: 1000, retryMaxMs: 1000 },
        {
          scheduler: {
            setTimeout: (callback, ms, keepAlive) => {
              retries.push(keepAlive);
              return setTimeout(callback, ms);
            },
            clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
            now: () => Date.now(),
          },
        },
      );
      const receipt = add();
      calls[0]?.reject(new TypeError('connect ECONNREFUSED 127.0.0.1'));
      await vi.advanceTimersByTimeAsync(0);
      // Nobody awaits: the retry must not keep the process.
      expect(retries).toEqual([false]);
      const release = e.hold();
      expect(retries).toEqual([false, true]);
      await vi.advanceTimersByTimeAsync(1000);
      calls[1]?.reject(new TypeError('connect ECONNREFUSED 127.0.0.1'));
      await vi.advanceTimersByTimeAsync(0);
      expect(retries).toEqual([false, true, true]);
      release();
      release();
      expect(retries).toEqual([false, true, true, false]);
      await vi.advanceTimersByTimeAsync(1000);
      calls[2]?.resolve(ok);
      await expect(receipt).resolves.toEqual({ messageId: 'm-1', delivered: true });
    });
  });

  describe('resolveDeliveryOptions', () => {
    it('rejects bad options with what to write instead', () => {
      expect(() => resolveDeliveryOptions({ flushAt: 0 })).toThrow(/flushAt.*integer >= 1/);
      expect(() => resolveDeliveryOptions({ queueFullPolicy: 'block' as never })).toThrow(/drop-oldest/);
      expect(Object.isFrozen(resolveDeliveryOptions())).toBe(true);
    });
  });

  describe('DeliveryEngine receipts', () => {
    it('answers receipts awaited after their events settled', async () => {
      const { add, calls } = engine({ flushAt: 3 });
      const receipts = [add(), add(), add()];
      calls[0]?.resolve({ rejected: [{ index: 2, messageId: 'm-3', code: 'KIMLIK_EVENT_TOO_DEEP', reason: 'deep' }] });
      await vi.advanceTimersByTimeAsync(0);
      // Only now does anyone ask.
      const results = await Promise.all(receipts);
      expect(results.map((r) => [r.messageId, r.delivered, r.error?.code])).toEqual([
        ['m-1', true, undefined],
        ['m-2', true, undefined],
        ['m-3', false, DELIVERY_ERROR_CODES.REJECTED],
      ]);
      expect(receipts[0]?.messageId).toBe('m-1');
    });

    it('a fire-and-forget burst needs no receipt, and an awaited one still resolves', async () => {
      const { add, calls, engine: e } = engine({ flushAt: 1000, maxBatchEvents: 1000 });
      for (let i = 0; i < 2999; i++) add();
      const last = add();
      const flushed = e.flush();
      await vi.advanceTimersByTimeAsync(0);
      for (const c of calls) c.resolve(ok);
      await flushed;
      await expect(last).resolves.toEqual({ messageId: 'm-3000', delivered: true });
    });
  });
});
