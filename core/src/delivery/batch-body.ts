import type { Rejection } from '../protocol.js';
import { utf8Decoder, utf8Encoder } from './byte-arena.js';
import type { QueuedEvent } from './event-queue.js';
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
  private readonly suffix: string;
  private readonly pool: Uint8Array[] = [];
  /** Bytes of the envelope around the events; the batcher leaves this much room. */
  readonly envelopeBytes: number;

  constructor(
    bodyFields: Record<string, unknown> | undefined,
    private readonly bufferBytes: number,
    private readonly poolSize: number,
  ) {
    const fields = bodyFields ? JSON.stringify(bodyFields).slice(1, -1) : '';
    this.suffix = fields ? `,${fields}}` : '}';
    this.envelopeBytes = HEAD.length + SENT_AT_BYTES + utf8Encoder.encode(this.suffix).length + 32;
  }

  build(events: readonly QueuedEvent[], attempt: number, sentAt: string): BuiltBody {
    const ids: string[] = new Array(events.length);
    const tail = utf8Encoder.encode(`],"sentAt":"${sentAt}"${this.suffix}`);
    let size = HEAD.length + tail.length + Math.max(0, events.length - 1);
    for (const e of events) size += e.bytes;
    let buffer = this.pool.pop();
    if (!buffer || buffer.length < size) buffer = new Uint8Array(Math.max(size, this.bufferBytes));
    const bytes = buffer.subarray(0, size);
    bytes.set(HEAD, 0);
    let at = HEAD.length;
    for (let i = 0; i < events.length; i++) {
      const e = events[i] as QueuedEvent;
      ids[i] = e.messageId;
      if (i > 0) bytes[at++] = 0x2c; // ','
      if (e.chunk) {
        bytes.set(e.chunk.subarray(e.offset, e.offset + e.bytes), at);
        at += e.bytes;
      } else at += utf8Encoder.encodeInto(e.json, bytes.subarray(at)).written;
    }
    bytes.set(tail, at);
    let body: string | undefined;
    return {
      buffer,
      bytes,
      messageIds: ids,
      attempt,
      get body() {
        body ??= utf8Decoder.decode(bytes);
        return body;
      },
    };
  }

  /** Takes a body buffer back once its request settled. */
  release(buffer: Uint8Array): void {
    if (this.pool.length < this.poolSize) this.pool.push(buffer);
  }
}

/**
 * The events a collector answer refuses, by index in the batch; the messageId is checked and,
 * if the index does not match it, used to find the event instead.
 */
export function matchRejections(
  events: readonly QueuedEvent[],
  rejected: readonly Rejection[],
): Map<QueuedEvent, Rejection> {
  const refused = new Map<QueuedEvent, Rejection>();
  for (const r of rejected) {
    let e = events[r.index];
    if (!e || (r.messageId !== null && e.messageId !== r.messageId)) {
      e = events.find((x) => x.messageId === r.messageId);
    }
    if (e) refused.set(e, r);
  }
  return refused;
}
