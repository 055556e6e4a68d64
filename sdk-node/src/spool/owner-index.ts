const EMPTY = -1;

// The two 32-bit hashes of the last key hashed; module state so hashing allocates nothing.
let h1 = 0;
let h2 = 0;

function hash(key: string): void {
  let a = 0x811c9dc5;
  let b = 0x9747b28c ^ key.length;
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995);
    b ^= b >>> 13;
  }
  a ^= a >>> 16;
  a = Math.imul(a, 0x85ebca6b);
  a ^= a >>> 13;
  b = Math.imul(b, 0xc2b2ae35);
  b ^= b >>> 16;
  h1 = a | 0;
  h2 = b | 0;
}

/**
 * messageId → number of the segment file holding it, for the events the engine holds (up to
 * `maxQueueEvents`, 200 000 by default). A `Map` of that many strings cost ~20 MB of heap and a
 * hash-table insert and delete per event on the spool's hot path (measured in the 100 000-event
 * burst); this is three typed arrays keyed by a 64-bit hash of the id, linear probing, deletion by
 * backward shift. Two live ids sharing a 64-bit hash (odds about n²/2⁶⁵) would only misplace one
 * file's live count.
 */
export class OwnerIndex {
  private keys1 = new Int32Array(1024);
  private keys2 = new Int32Array(1024);
  private values = new Int32Array(1024).fill(EMPTY);
  private mask = 1023;
  size = 0;

  /** The segment number stored for `id`, or -1. */
  get(id: string): number {
    hash(id);
    const i = this.find();
    return i < 0 ? EMPTY : (this.values[i] as number);
  }

  set(id: string, segment: number): void {
    hash(id);
    const found = this.find();
    if (found >= 0) {
      this.values[found] = segment;
      return;
    }
    if ((this.size + 1) * 2 > this.values.length) this.grow();
    this.insert(h1, h2, segment);
    this.size++;
  }

  /** Forgets `id`; returns the segment number it had, or -1. */
  delete(id: string): number {
    hash(id);
    let i = this.find();
    if (i < 0) return EMPTY;
    const segment = this.values[i] as number;
    const mask = this.mask;
    // Backward shift: pull later entries of the probe run into the gap so lookups need no tombstones.
    let j = i;
    for (;;) {
      j = (j + 1) & mask;
      if (this.values[j] === EMPTY) break;
      const home = (this.keys1[j] as number) & mask;
      const between = i <= j ? home > i && home <= j : home > i || home <= j;
      if (between) continue;
      this.keys1[i] = this.keys1[j] as number;
      this.keys2[i] = this.keys2[j] as number;
      this.values[i] = this.values[j] as number;
      i = j;
    }
    this.values[i] = EMPTY;
    this.size--;
    return segment;
  }

  /** Slot of the last hashed key, or -1. */
  private find(): number {
    const mask = this.mask;
    for (let i = h1 & mask; ; i = (i + 1) & mask) {
      const v = this.values[i] as number;
      if (v === EMPTY) return -1;
      if (this.keys1[i] === h1 && this.keys2[i] === h2) return i;
    }
  }

  private insert(k1: number, k2: number, value: number): void {
    const mask = this.mask;
    let i = k1 & mask;
    while (this.values[i] !== EMPTY) i = (i + 1) & mask;
    this.keys1[i] = k1;
    this.keys2[i] = k2;
    this.values[i] = value;
  }

  private grow(): void {
    const { keys1, keys2, values } = this;
    const capacity = values.length * 2;
    this.keys1 = new Int32Array(capacity);
    this.keys2 = new Int32Array(capacity);
    this.values = new Int32Array(capacity).fill(EMPTY);
    this.mask = capacity - 1;
    for (let i = 0; i < values.length; i++) {
      const v = values[i] as number;
      if (v !== EMPTY) this.insert(keys1[i] as number, keys2[i] as number, v);
    }
  }
}
