import { utf8Decoder } from './byte-arena.js';
import type { EventRun } from './event-buffer.js';

/**
 * Events as parallel arrays: seq, arena chunk, offset, id length and JSON length. Queued events
 * are not JS objects: a burst of 100 000 `track()` calls leaves nothing per event for the
 * garbage collector to copy and promote, which kept V8's young generation at its largest and
 * cost tens of MB of RSS. In a chunk, an event is its messageId's bytes then its JSON's bytes.
 */
export class EventSlice implements EventRun {
  length = 0;
  /** Sum of the events' JSON bytes. */
  bytes = 0;
  seqs: Float64Array;
  offsets: Float64Array;
  idLengths: Int32Array;
  jsonLengths: Int32Array;
  chunks: (Uint8Array | undefined)[];

  constructor(capacity = 16) {
    this.seqs = new Float64Array(capacity);
    this.offsets = new Float64Array(capacity);
    this.idLengths = new Int32Array(capacity);
    this.jsonLengths = new Int32Array(capacity);
    this.chunks = [];
  }

  /** The messageId of event `i`. */
  id(i: number): string {
    const at = this.offsets[i] as number;
    return utf8Decoder.decode((this.chunks[i] as Uint8Array).subarray(at, at + (this.idLengths[i] as number)));
  }

  seq(i: number): number {
    return this.seqs[i] as number;
  }

  size(i: number): number {
    return this.jsonLengths[i] as number;
  }

  push(seq: number, chunk: Uint8Array, offset: number, idLength: number, jsonLength: number): void {
    if (this.length === this.seqs.length) this.grow(Math.max(16, this.length * 2));
    const i = this.length++;
    this.seqs[i] = seq;
    this.offsets[i] = offset;
    this.idLengths[i] = idLength;
    this.jsonLengths[i] = jsonLength;
    this.chunks[i] = chunk;
    this.bytes += jsonLength;
  }

  /** Events `from` (inclusive) to `to` (exclusive) as a new slice. */
  slice(from: number, to: number): EventSlice {
    const s = new EventSlice(0);
    s.length = to - from;
    s.seqs = this.seqs.slice(from, to);
    s.offsets = this.offsets.slice(from, to);
    s.idLengths = this.idLengths.slice(from, to);
    s.jsonLengths = this.jsonLengths.slice(from, to);
    s.chunks = this.chunks.slice(from, to);
    for (let i = 0; i < s.length; i++) s.bytes += s.jsonLengths[i] as number;
    return s;
  }

  protected grow(capacity: number): void {
    this.seqs = resized(this.seqs, capacity, this.length);
    this.offsets = resized(this.offsets, capacity, this.length);
    this.idLengths = resized(this.idLengths, capacity, this.length);
    this.jsonLengths = resized(this.jsonLengths, capacity, this.length);
  }
}

function resized<T extends Float64Array | Int32Array>(array: T, capacity: number, used: number): T {
  const copy = new (array.constructor as new (n: number) => T)(capacity);
  copy.set(array.subarray(0, used));
  return copy;
}

/** The queue of events not yet in a batch: an `EventSlice` consumed from the head, in seq order. */
export class EventRing extends EventSlice {
  #head = 0;

  get count(): number {
    return this.length - this.#head;
  }

  /** Seq of the oldest queued event, or Infinity. */
  get headSeq(): number {
    return this.#head < this.length ? (this.seqs[this.#head] as number) : Infinity;
  }

  /** Removes the `n` oldest events. */
  shift(n: number): EventSlice {
    const out = this.slice(this.#head, this.#head + n);
    for (let i = this.#head; i < this.#head + n; i++) this.chunks[i] = undefined;
    this.#head += n;
    this.bytes -= out.bytes;
    if (this.#head === this.length) {
      this.#head = 0;
      this.length = 0;
      this.chunks = [];
    } else if (this.#head > 4096 && this.#head * 2 > this.length) this.#compact();
    return out;
  }

  /** Events in front of the queue (restored from storage after newer ones arrived). */
  prepend(events: EventSlice): void {
    const rest = this.slice(this.#head, this.length);
    this.#head = 0;
    this.length = 0;
    this.bytes = 0;
    this.chunks = [];
    for (const s of [events, rest]) {
      for (let i = 0; i < s.length; i++) {
        this.push(
          s.seqs[i] as number,
          s.chunks[i] as Uint8Array,
          s.offsets[i] as number,
          s.idLengths[i] as number,
          s.jsonLengths[i] as number,
        );
      }
    }
  }

  #compact(): void {
    const rest = this.slice(this.#head, this.length);
    this.seqs = rest.seqs;
    this.offsets = rest.offsets;
    this.idLengths = rest.idLengths;
    this.jsonLengths = rest.jsonLengths;
    this.chunks = rest.chunks;
    this.length = rest.length;
    this.#head = 0;
  }
}
