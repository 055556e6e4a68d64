import type { PersistedEvent, QueueStorage } from '@kimlik/core';
import { clear, createStore, delMany, entries, set, type UseStore } from 'idb-keyval';

/**
 * The engine's queue storage in IndexedDB: one record per event, keyed by its messageId. UUIDv7
 * keys sort by creation time, so the oldest events load first. All tabs of an origin share the
 * database; only the leading tab sends from it.
 */
export class IdbQueueStorage implements QueueStorage {
  readonly persistent = true;
  readonly #store: UseStore;

  constructor(name: string) {
    this.#store = createStore(name, 'events');
  }

  async load(): Promise<PersistedEvent[]> {
    const all = await entries<string, string>(this.#store);
    return all.map(([messageId, json]) => ({ messageId, json }));
  }

  append(messageId: string, json: string): Promise<void> {
    return set(messageId, json, this.#store);
  }

  remove(messageIds: readonly string[]): Promise<void> {
    return delMany([...messageIds], this.#store);
  }

  /** Consent denied: the whole queue goes. */
  clear(): Promise<void> {
    return clear(this.#store);
  }
}
