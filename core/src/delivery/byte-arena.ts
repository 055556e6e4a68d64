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
  private chunk: Uint8Array;
  private used = 0;
  private readonly chunkBytes: number;
  /** Where the last `write` put its bytes. */
  lastChunk: Uint8Array;
  lastOffset = 0;

  constructor(chunkBytes: number) {
    this.chunkBytes = chunkBytes;
    this.chunk = new Uint8Array(chunkBytes);
    this.lastChunk = this.chunk;
  }

  /** UTF-8 lengths of the two strings the last `writePair` stored back to back. */
  lastFirstBytes = 0;
  lastSecondBytes = 0;

  /** Encodes `first` then `second` contiguously in one chunk; sets `last*`. */
  writePair(first: string, second: string): void {
    const need = first.length + second.length;
    if (this.chunk.length - this.used >= need) {
      const a = utf8Encoder.encodeInto(first, this.chunk.subarray(this.used));
      if (a.read === first.length) {
        const b = utf8Encoder.encodeInto(second, this.chunk.subarray(this.used + a.written));
        if (b.read === second.length) {
          this.lastFirstBytes = a.written;
          this.lastSecondBytes = b.written;
          this.commit(a.written + b.written);
          return;
        }
      }
    }
    this.chunk = new Uint8Array(Math.max(this.chunkBytes, need * 3));
    this.used = 0;
    const a = utf8Encoder.encodeInto(first, this.chunk);
    const b = utf8Encoder.encodeInto(second, this.chunk.subarray(a.written));
    this.lastFirstBytes = a.written;
    this.lastSecondBytes = b.written;
    this.commit(a.written + b.written);
  }

  /** Encodes `text`; returns its UTF-8 length and sets `lastChunk`/`lastOffset`. */
  write(text: string): number {
    // Cheap rejection first: a string needs at least one byte per UTF-16 unit.
    if (this.chunk.length - this.used >= text.length) {
      const r = utf8Encoder.encodeInto(text, this.chunk.subarray(this.used));
      if (r.read === text.length) return this.commit(r.written);
    }
    this.chunk = new Uint8Array(Math.max(this.chunkBytes, text.length * 3));
    this.used = 0;
    return this.commit(utf8Encoder.encodeInto(text, this.chunk).written);
  }

  private commit(written: number): number {
    this.lastChunk = this.chunk;
    this.lastOffset = this.used;
    this.used += written;
    return written;
  }
}
