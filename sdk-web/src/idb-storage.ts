import type { PersistedEvent, QueueStorage } from '@kimlik/core';
import { createStore, promisifyRequest, type UseStore } from 'idb-keyval';

/**
 * The tab queue's storage in IndexedDB: one record per event. All tabs of an origin share the
 * database, but a source (write key + endpoint) sends only its own events: each record's key is
 * `messageId + ' ' + source`, so UUIDv7 keys still sort by creation time and one source's leader
 * never posts another source's events with its write key. Records an earlier version wrote with
 * the bare messageId are adopted by the first source that loads them.
 *
 * Changes are written in batches: a transaction per event cost the page's main thread tens of
 * microseconds each (a loop of 10 000 track() calls made a 1.4 s long task), so the changes made
 * until the next microtask share one transaction. A key's last change replaces the earlier ones,
 * so a removal is never overtaken by the write of its event: that write is either dropped before
 * it was made or in an earlier transaction, which IndexedDB commits first. idb-keyval creates
 * every transaction through one promise of the open database, so in the order of these calls.
 *
 * Built on idb-keyval's store and request helpers only: its key-value functions each carry a
 * default database and a cursor fallback this queue never uses.
 */
export class IdbQueueStorage implements QueueStorage {
  readonly persistent = true;
  readonly #store: UseStore;
  readonly #source: string;
  /**
   * Appended events whose write has not committed, by messageId: in the next batch, in its
   * transaction, or in one that failed (they live on in memory only). Page exit stashes them.
   */
  readonly unsaved = new Map<string, string>();
  /** What the next batch writes, by key: the record, or null to delete it. */
  #changes = new Map<string, string | null>();
  /** The next batch, once scheduled. */
  #next: Promise<void> | undefined;
  /** Called after each batch committed. */
  readonly #saved: (() => void) | undefined;

  constructor(name: string, source = '', saved?: () => void) {
    this.#store = createStore(name, 'events');
    this.#source = ` ${source}`;
    this.#saved = saved;
  }

  /**
   * getAllKeys and getAll (IndexedDB 2.0, every current browser) answer in the same key order.
   * Read after the pending batch, so a tab that takes over finds its own latest events.
   */
  load(): Promise<PersistedEvent[]> {
    return (
      this.#batch()
        // A failed write is reported through its appends; loading goes on.
        .catch(() => undefined)
        .then(() =>
          this.#store('readonly', (s) => Promise.all([promisifyRequest(s.getAllKeys()), promisifyRequest(s.getAll())])),
        )
        .then(([keys, jsons]) => {
          const mine: PersistedEvent[] = [];
          keys.forEach((key, i) => {
            const [messageId, source] = String(key).split(' ');
            if (source === undefined || ` ${source}` === this.#source) {
              mine.push({ messageId: messageId as string, json: jsons[i] as string });
            }
          });
          return mine;
        })
    );
  }

  /** Resolves once the batch holding the event committed, so a resolved append is on disk. */
  append(messageId: string, json: string): Promise<void> {
    this.unsaved.set(messageId, json);
    this.#changes.set(messageId + this.#source, json);
    return this.#batch();
  }

  /** Also the proof that the database opens and commits: `remove([])` makes an empty transaction. */
  remove(messageIds: readonly string[]): Promise<void> {
    const changes = this.#changes;
    for (const id of messageIds) {
      const key = id + this.#source;
      this.unsaved.delete(id);
      // The bare key too, as the event may be one an earlier version wrote, unless this tab
      // appended it since the last batch (a drop past the queue bound: half the deletes).
      if (!changes.get(key)) changes.set(id, null);
      changes.set(key, null);
    }
    return this.#batch();
  }

  /** Consent denied (for the whole site): every source's queue goes, with the writes not yet made. */
  clear(): Promise<void> {
    this.#changes.clear();
    this.unsaved.clear();
    return this.#write((s) => s.clear());
  }

  /**
   * A batch whose transaction aborts (quota) fails whole: its new events stay in memory (the
   * tab queue reports them), and its removals are lost with it, so those events come back on the
   * next load; any that was sent is stored once by the collector's dedup.
   */
  #batch(): Promise<void> {
    this.#next ??= Promise.resolve().then(() => {
      const changes = this.#changes;
      this.#changes = new Map();
      this.#next = undefined;
      return this.#write((s) => {
        // Removals first: a put that throws at the call (some browsers' quota errors) stops here.
        for (const [key, json] of changes) if (json === null) s.delete(key);
        for (const [key, json] of changes) if (json !== null) s.put(json, key);
      }).then(() => {
        for (const [id, json] of this.unsaved) if (changes.get(id + this.#source) === json) this.unsaved.delete(id);
        this.#saved?.();
      });
    });
    return this.#next;
  }

  /** Resolves once the transaction committed. */
  #write(change: (s: IDBObjectStore) => unknown): Promise<void> {
    return this.#store('readwrite', (s) => {
      change(s);
      return promisifyRequest(s.transaction);
    });
  }
}
