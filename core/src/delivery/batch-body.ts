import type { Rejection } from '../protocol.js';
import { utf8Decoder, utf8Encoder } from './byte-arena.js';
import type { EventSlice } from './event-ring.js';
import type { OutgoingBatch } from './ports.js';

const HEAD = utf8Encoder.encode('{"batch":[');
/** Room for `],"sentAt":"<ISO date>"` around the events. */
const SENT_AT_BYTES = 40;

/** The body that goes out, and the pooled buffer that holds it until the request settles. */
export interface BuiltBody extends OutgoingBatch {
  readonly buffer: Uint8Array;
}

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
    const fields = bodyFields ? JSON.stringify(bodyFields).slice(1, -1) : '';
    this.#suffix = fields ? `,${fields}}` : '}';
    this.envelopeBytes = HEAD.length + SENT_AT_BYTES + this.#suffix.length * 3 + 32;
  }

  build(events: EventSlice, attempt: number, sentAt: string): BuiltBody {
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
    return {
      buffer,
      bytes,
      attempt,
      get messageIds() {
        ids ??= events.ids();
        return ids;
      },
      get body() {
        body ??= utf8Decoder.decode(bytes);
        return body;
      },
    };
  }

  /** Takes a body buffer back once its request settled. */
  release(buffer: Uint8Array): void {
    if (this.#pool.length < this.poolSize) this.#pool.push(buffer);
  }
}

/**
 * The events a collector answer refuses, as index in the batch → rejection. The messageId is
 * checked and, if the index does not match it, used to find the event instead.
 */
export function matchRejections(events: EventSlice, rejected: readonly Rejection[]): Map<number, Rejection> {
  const refused = new Map<number, Rejection>();
  const ids = rejected.length > 0 ? events.ids() : [];
  for (const r of rejected) {
    const i = r.messageId !== null && ids[r.index] !== r.messageId ? ids.indexOf(r.messageId) : r.index;
    if (i >= 0 && i < ids.length) refused.set(i, r);
  }
  return refused;
}
