import 'fake-indexeddb/auto';
import { resolveDeliveryOptions, TransportError } from '@kimlik/core';
import { describe, expect, test, vi } from 'vitest';
import { IdbQueueStorage } from './idb-storage.js';
import { nextMessageId } from './message-id.js';
import { type SendPorts, SendQueue } from './send-queue.js';

let n = 0;
const fresh = () => new IdbQueueStorage(`kimlik-test-${++n}`);

describe('IdbQueueStorage', () => {
  test('loads what was appended, oldest first, without what was removed', async () => {
    const storage = fresh();
    const ids = Array.from({ length: 50 }, () => nextMessageId());
    for (const id of ids) await storage.append(id, JSON.stringify({ messageId: id }));
    await storage.remove([ids[3] as string, ids[7] as string]);
    const loaded = await storage.load();
    expect(loaded.map((p) => p.messageId)).toEqual(ids.filter((_, i) => i !== 3 && i !== 7));
    expect(JSON.parse(loaded[0]?.json as string)).toEqual({ messageId: ids[0] });
  });

  test('a second instance on the same database (another tab) sees the same queue; clear empties it', async () => {
    const a = fresh();
    const b = new IdbQueueStorage(`kimlik-test-${n}`);
    await a.append('x', '{}');
    expect((await b.load()).map((p) => p.messageId)).toEqual(['x']);
    await b.clear();
    expect(await a.load()).toEqual([]);
  });

  test('sources of one site share the database but load only their own events; older bare keys are adopted', async () => {
    const name = `kimlik-test-${++n}`;
    const blog = new IdbQueueStorage(name, 'blog');
    const app = new IdbQueueStorage(name, 'app');
    await blog.append('01', '{"n":1}');
    await app.append('02', '{"n":2}');
    // An event an earlier version queued under its bare messageId.
    await new IdbQueueStorage(name, 'x').remove([]);
    await new Promise<void>((resolve, reject) => {
      const open = indexedDB.open(name);
      open.onsuccess = () => {
        const tx = open.result.transaction('events', 'readwrite');
        tx.objectStore('events').put('{"n":0}', '00');
        tx.oncomplete = () => resolve(open.result.close());
        tx.onerror = () => reject(tx.error);
      };
    });
    expect((await app.load()).map((p) => p.messageId)).toEqual(['00', '02']);
    expect((await blog.load()).map((p) => p.messageId)).toEqual(['00', '01']);
    await app.remove(['00', '02']);
    expect((await blog.load()).map((p) => p.json)).toEqual(['{"n":1}']);
  });

  test('with the send queue: unacknowledged events survive a restart and are re-sent with their ids', async () => {
    const name = `kimlik-test-${++n}`;
    const options = resolveDeliveryOptions({ flushAt: 1, retryBaseMs: 60_000, retryMaxMs: 60_000 });
    const queueOver = (storage: IdbQueueStorage, post: SendPorts['post']) =>
      new SendQueue(
        options,
        { post, remove: (ids) => void storage.remove(ids), open: () => true, report: () => undefined },
        '}',
      );
    const first = new IdbQueueStorage(name);
    const failing = queueOver(first, () => Promise.reject(new TransportError('offline', { retryable: true })));
    failing.restore([]);
    const ids = [nextMessageId(), nextMessageId(), nextMessageId()];
    for (const id of ids) {
      const json = JSON.stringify({ type: 'track', event: 'e', messageId: id });
      if (failing.add(id, json)) await first.append(id, json);
    }
    await new Promise((r) => setTimeout(r, 50));
    failing.stop();

    const sent: string[] = [];
    const storage = new IdbQueueStorage(name);
    const second = queueOver(storage, async (body) => {
      sent.push(...(JSON.parse(body) as { batch: { messageId: string }[] }).batch.map((e) => e.messageId));
      return { rejected: [] };
    });
    const stored = await storage.load();
    expect(stored.length).toBe(3);
    second.restore(stored.map((p) => [p.messageId, p.json]));
    await second.flush(5000);
    expect(sent).toEqual(ids);
    await new Promise((r) => setTimeout(r, 20));
    expect(await storage.load()).toEqual([]);
  });
});

describe('nextMessageId', () => {
  test('is a UUIDv7 and sorts in call order even within one millisecond', () => {
    const ids = Array.from({ length: 5000 }, () => nextMessageId());
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
  });
});

describe('IdbQueueStorage batches', () => {
  /** Read-write transactions opened on any database while `run` runs and its writes settle. */
  async function writesDuring(run: () => Promise<unknown>): Promise<number> {
    const open = IDBDatabase.prototype.transaction;
    let writes = 0;
    const spy = vi.spyOn(IDBDatabase.prototype, 'transaction').mockImplementation(function (
      this: IDBDatabase,
      ...args: Parameters<typeof open>
    ) {
      if (args[1] === 'readwrite') writes++;
      return open.apply(this, args);
    });
    try {
      await run();
    } finally {
      spy.mockRestore();
    }
    return writes;
  }

  test('the appends of one task share one transaction and all resolve once it committed', async () => {
    const storage = fresh();
    await storage.remove([]);
    const ids = Array.from({ length: 500 }, () => nextMessageId());
    const writes = await writesDuring(() => Promise.all(ids.map((id) => storage.append(id, `{"id":"${id}"}`))));
    expect(writes).toBe(1);
    expect((await storage.load()).map((p) => p.messageId)).toEqual(ids);
  });

  test('a removal is never overtaken by the write of its event, pending or in flight', async () => {
    const storage = fresh();
    const [a, b, c] = [nextMessageId(), nextMessageId(), nextMessageId()];
    // Removed in the task that appended it: its write is dropped, not made after the delete.
    const appended = storage.append(a, '{}');
    void storage.append(b, '{}');
    const removed = storage.remove([a]);
    await Promise.all([appended, removed]);
    // Removed once its write is in flight (the transaction made, not committed).
    const inFlight = storage.append(c, '{}');
    await Promise.resolve();
    await Promise.all([inFlight, storage.remove([c])]);
    expect((await storage.load()).map((p) => p.messageId)).toEqual([b]);
  });

  test('load sees the appends of its own task; clear drops the writes not yet made', async () => {
    const storage = fresh();
    void storage.append('01', '{"n":1}');
    expect((await storage.load()).map((p) => p.json)).toEqual(['{"n":1}']);
    void storage.append('02', '{"n":2}');
    const cleared = storage.clear();
    void storage.append('03', '{"n":3}');
    await cleared;
    expect((await storage.load()).map((p) => p.messageId)).toEqual(['03']);
  });

  test('unsaved lists the appends not yet committed (what page exit stashes); saved() follows each commit', async () => {
    const saved = vi.fn();
    const storage = new IdbQueueStorage(`kimlik-test-${++n}`, 'src', saved);
    const done = storage.append('01', '{"n":1}');
    void storage.append('02', '{"n":2}');
    void storage.remove(['02']);
    expect([...storage.unsaved]).toEqual([['01', '{"n":1}']]);
    await done;
    expect(storage.unsaved.size).toBe(0);
    expect(saved).toHaveBeenCalledTimes(1);
    const put = vi.spyOn(IDBObjectStore.prototype, 'put').mockImplementation(() => {
      throw new DOMException('The quota has been exceeded.', 'QuotaExceededError');
    });
    try {
      await expect(storage.append('03', '{"n":3}')).rejects.toThrow(/quota/);
    } finally {
      put.mockRestore();
    }
    // Lost with its transaction: still unsaved, so page exit stashes it.
    expect([...storage.unsaved.keys()]).toEqual(['03']);
    expect(saved).toHaveBeenCalledTimes(1);
  });

  test('a put that throws (quota) fails the appends of its batch, and the removals of that batch are still made', async () => {
    const storage = fresh();
    await storage.append('01', '{}');
    const put = vi.spyOn(IDBObjectStore.prototype, 'put').mockImplementation(() => {
      throw new DOMException('The quota has been exceeded.', 'QuotaExceededError');
    });
    try {
      const appended = storage.append('02', '{}');
      const removed = storage.remove(['01']);
      await expect(appended).rejects.toThrow(/quota/);
      await removed.catch(() => undefined);
    } finally {
      put.mockRestore();
    }
    expect(await storage.load()).toEqual([]);
  });
});
