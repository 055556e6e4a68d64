import type { PersistedEvent, QueueStorage } from '@kimlik/core';
import { createStore, promisifyRequest, type UseStore } from 'idb-keyval';

/**
 * The engine's queue storage in IndexedDB: one record per event, keyed by its messageId. UUIDv7
 * keys sort by creation time, so the oldest events load first. All tabs of an origin share the
 * database; only the leading tab sends from it.
 *
 * Built on idb-keyval's store and request helpers only: its key-value functions each carry a
 * default database and a cursor fallback this queue never uses.
 */
export class IdbQueueStorage implements QueueStorage {
  readonly persistent = true;
  readonly #store: UseStore;

  constructor(name: string) {
    this.#store = createStore(name, 'events');
  }

  /** getAllKeys and getAll (IndexedDB 2.0, every current browser) answer in the same key order. */
  load(): Promise<PersistedEvent[]> {
    return this.#store('readonly', (s) =>
      Promise.all([promisifyRequest(s.getAllKeys()), promisifyRequest(s.getAll())]),
    ).then(([ids, jsons]) => ids.map((id, i) => ({ messageId: id as string, json: jsons[i] as string })));
  }

  append(messageId: string, json: string): Promise<void> {
    return this.#write((s) => s.put(json, messageId));
  }

  remove(messageIds: readonly string[]): Promise<void> {
    return this.#write((s) => {
      for (const id of messageIds) s.delete(id);
    });
  }

  /** Consent denied: the whole queue goes. */
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
