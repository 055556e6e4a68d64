import type { PersistedEvent, QueueStorage } from '@kimlik/core';
import { createStore, promisifyRequest, type UseStore } from 'idb-keyval';

/**
 * The engine's queue storage in IndexedDB: one record per event. All tabs of an origin share the
 * database, but a source (write key + endpoint) sends only its own events: each record's key is
 * `messageId + ' ' + source`, so UUIDv7 keys still sort by creation time and one source's leader
 * never posts another source's events with its write key. Records an earlier version wrote with
 * the bare messageId are adopted by the first source that loads them.
 *
 * Built on idb-keyval's store and request helpers only: its key-value functions each carry a
 * default database and a cursor fallback this queue never uses.
 */
export class IdbQueueStorage implements QueueStorage {
  readonly persistent = true;
  readonly #store: UseStore;
  readonly #source: string;

  constructor(name: string, source = '') {
    this.#store = createStore(name, 'events');
    this.#source = ` ${source}`;
  }

  /** getAllKeys and getAll (IndexedDB 2.0, every current browser) answer in the same key order. */
  load(): Promise<PersistedEvent[]> {
    return this.#store('readonly', (s) =>
      Promise.all([promisifyRequest(s.getAllKeys()), promisifyRequest(s.getAll())]),
    ).then(([keys, jsons]) => {
      const mine: PersistedEvent[] = [];
      keys.forEach((key, i) => {
        const [messageId, source] = String(key).split(' ');
        if (source === undefined || ` ${source}` === this.#source) {
          mine.push({ messageId: messageId as string, json: jsons[i] as string });
        }
      });
      return mine;
    });
  }

  append(messageId: string, json: string): Promise<void> {
    return this.#write((s) => s.put(json, messageId + this.#source));
  }

  remove(messageIds: readonly string[]): Promise<void> {
    return this.#write((s) => {
      // The bare key too: the event may be an adopted one from an earlier version.
      for (const id of messageIds) {
        s.delete(id + this.#source);
        s.delete(id);
      }
    });
  }

  /** Consent denied (for the whole site): every source's queue goes. */
  clear(): Promise<void> {
    return this.#write((s) => s.clear());
  }

  /** Resolves once the transaction committed, so a resolved append is on disk. */
  #write(change: (s: IDBObjectStore) => unknown): Promise<void> {
    return this.#store('readwrite', (s) => {
      change(s);
      return promisifyRequest(s.transaction);
    });
  }
}
