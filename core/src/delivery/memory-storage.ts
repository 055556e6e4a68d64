import type { PersistedEvent, QueueStorage } from './ports.js';

/** The default storage: nothing beyond the engine's in-memory queue. */
export class MemoryStorage implements QueueStorage {
  readonly persistent = false;
  load(): readonly PersistedEvent[] {
    return [];
  }
  append(): void {
    // The engine's queue already holds the event; memory storage adds no second copy.
  }
  remove(): void {
    // Nothing stored beyond the engine's queue.
  }
}
