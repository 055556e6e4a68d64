// Text codecs every runtime has (browsers, Node >= 11), declared so core needs no DOM lib.
declare class TextEncoder {
  encode(input: string): Uint8Array;
  encodeInto(input: string, dest: Uint8Array): { read: number; written: number };
}
declare class TextDecoder {
  decode(input: Uint8Array): string;
}

export const utf8Encoder = new TextEncoder();
export const utf8Decoder = new TextDecoder();

/**
 * Queued events' UTF-8 bytes, packed into large chunks instead of one string per event.
 * A burst of 100 000 `track()` calls otherwise leaves 100 000 strings for the garbage
 * collector to copy into the old generation; packed bytes sit outside the JS heap, cost no
 * per-string header and go to a request body with one copy. A chunk is freed by the GC once
 * no unsettled event points into it.
 */
export class ByteArena {
  #chunk: Uint8Array;
  #used = 0;
  readonly #chunkBytes: number;
  /** Where the last `writePair` put its bytes, and the UTF-8 lengths of its two strings. */
  lastChunk: Uint8Array;
  lastOffset = 0;
  lastFirstBytes = 0;
  lastSecondBytes = 0;

  constructor(chunkBytes: number) {
    this.#chunkBytes = chunkBytes;
    this.#chunk = this.lastChunk = new Uint8Array(chunkBytes);
  }

  /** Encodes `first` then `second` contiguously in one chunk; sets the `last*` fields. */
  writePair(first: string, second: string): void {
    // A UTF-16 unit is at most 3 UTF-8 bytes: reserving that much means encodeInto never truncates.
    const need = (first.length + second.length) * 3;
    if (this.#chunk.length - this.#used < need) {
      this.#chunk = new Uint8Array(Math.max(this.#chunkBytes, need));
      this.#used = 0;
    }
    const at = this.#used;
    const a = utf8Encoder.encodeInto(first, this.#chunk.subarray(at)).written;
    const b = utf8Encoder.encodeInto(second, this.#chunk.subarray(at + a)).written;
    this.lastChunk = this.#chunk;
    this.lastOffset = at;
    this.lastFirstBytes = a;
    this.lastSecondBytes = b;
    this.#used = at + a + b;
  }
}
