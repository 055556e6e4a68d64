/**
 * A map of at most `limit` entries that keeps the recently used ones: two generations, each up to
 * half the limit. A hit in the old generation moves the entry to the new one; when the new one is
 * full it becomes the old one, and the old one's remaining entries go. A cache that instead
 * started over when full dropped its hot entries with the cold ones, and every lookup after that
 * went to the database until it refilled.
 */
export class BoundedMap<K, V> {
  private young = new Map<K, V>();
  private old = new Map<K, V>();
  private readonly generation: number;

  constructor(limit: number) {
    if (!Number.isInteger(limit) || limit < 2) throw new RangeError('limit must be an integer >= 2');
    this.generation = Math.floor(limit / 2);
  }

  get(key: K): V | undefined {
    const hit = this.young.get(key);
    if (hit !== undefined) return hit;
    const old = this.old.get(key);
    // Left in the old generation too: it goes with it, and the new one is looked up first.
    if (old !== undefined) this.set(key, old);
    return old;
  }

  set(key: K, value: V): void {
    this.young.set(key, value);
    if (this.young.size >= this.generation) {
      this.old = this.young;
      this.young = new Map();
    }
  }

  delete(key: K): void {
    this.young.delete(key);
    this.old.delete(key);
  }

  /** Entries held, counting one set in both generations twice (never more than the limit). */
  get size(): number {
    return this.young.size + this.old.size;
  }
}
