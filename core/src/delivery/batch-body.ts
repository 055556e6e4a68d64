import { utf8Decoder, utf8Encoder } from './byte-arena.js';
import { type BuiltBatch, bodySuffix, envelopeBytes, idsOf } from './event-buffer.js';
import type { EventSlice } from './event-ring.js';

const HEAD = utf8Encoder.encode('{"batch":[');
/**
 * Assembles `{"batch":[…],"sentAt":"…",…bodyFields}` from the events' packed bytes with one copy
 * per event. Body buffers are reused: a burst sends dozens of ~500 KB bodies, and fresh ones
 * linger as external memory until a major GC, which raised peak RSS by tens of MB.
 */
export class BatchBodyBuilder {
  readonly #suffix: string;
  readonly #pool: Uint8Array[] = [];
  /** Bytes of the envelope around the events; the batcher leaves this much room. */
  readonly envelopeBytes: number;

  constructor(
    bodyFields: Record<string, unknown> | undefined,
    private readonly bufferBytes: number,
    private readonly poolSize: number,
  ) {
    this.#suffix = bodySuffix(bodyFields);
    this.envelopeBytes = envelopeBytes(this.#suffix);
  }

  build(events: EventSlice, attempt: number, sentAt: string): BuiltBatch {
    const tail = utf8Encoder.encode(`],"sentAt":"${sentAt}"${this.#suffix}`);
    const size = HEAD.length + tail.length + Math.max(0, events.length - 1) + events.bytes;
    let buffer = this.#pool.pop();
    if (!buffer || buffer.length < size) buffer = new Uint8Array(Math.max(size, this.bufferBytes));
    const bytes = buffer.subarray(0, size);
    bytes.set(HEAD, 0);
    let at = HEAD.length;
    for (let i = 0; i < events.length; i++) {
      if (i > 0) bytes[at++] = 0x2c; // ','
      const from = (events.offsets[i] as number) + (events.idLengths[i] as number);
      const n = events.jsonLengths[i] as number;
      bytes.set((events.chunks[i] as Uint8Array).subarray(from, from + n), at);
      at += n;
    }
    bytes.set(tail, at);
    let body: string | undefined;
    let ids: string[] | undefined;
    const pool = this.#pool;
    const poolSize = this.poolSize;
    return {
      bytes,
      attempt,
      // The buffer goes back to the pool once its request settled.
      release: () => {
        if (pool.length < poolSize) pool.push(buffer);
      },
      get messageIds() {
        ids ??= idsOf(events);
        return ids;
      },
      get body() {
        body ??= utf8Decoder.decode(bytes);
        return body;
      },
    };
  }
}
