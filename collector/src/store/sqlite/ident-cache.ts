import type { ResolverNode } from '../../identity/resolve.js';

/** One generation: the same identifiers by (type, value) and by id. */
class Generation {
  /** By type, then value: no concatenated key string to build and hash per lookup (a tenth of ensure()'s time). */
  readonly byKey = new Map<string, Map<string, ResolverNode>>();
  readonly byId = new Map<number, ResolverNode>();

  add(n: ResolverNode): void {
    let byValue = this.byKey.get(n.type);
    if (!byValue) {
      byValue = new Map();
      this.byKey.set(n.type, byValue);
    }
    byValue.set(n.value, n);
    this.byId.set(n.id, n);
  }
}

/**
 * Identifiers the identity writer has read or created, found by (type, value) or by id, at most
 * `limit` of them, the recently used kept (two generations, as in `BoundedMap`). Both lookups
 * always answer the same object for an identifier: its first sighting and alias flag are updated
 * in place, so a second copy would go stale.
 */
export class IdentCache {
  private young = new Generation();
  private old = new Generation();
  private readonly generation: number;

  constructor(limit: number) {
    this.generation = Math.floor(limit / 2);
  }

  byKey(type: string, value: string): ResolverNode | undefined {
    return this.young.byKey.get(type)?.get(value) ?? this.promote(this.old.byKey.get(type)?.get(value));
  }

  byId(id: number): ResolverNode | undefined {
    return this.young.byId.get(id) ?? this.promote(this.old.byId.get(id));
  }

  add(n: ResolverNode): void {
    this.young.add(n);
    if (this.young.byId.size >= this.generation) {
      this.old = this.young;
      this.young = new Generation();
    }
  }

  private promote(n: ResolverNode | undefined): ResolverNode | undefined {
    if (n) this.add(n);
    return n;
  }
}
