import { BatchBodyBuilder } from './batch-body.js';
import { ByteArena } from './byte-arena.js';
import type { BuiltBatch, EventBuffer, EventBufferConfig, EventRun } from './event-buffer.js';
import { EventRing, type EventSlice } from './event-ring.js';
import type { PersistedEvent } from './ports.js';

/**
 * The event buffer for large bursts (the Node SDK): events as packed UTF-8 in a `ByteArena`
 * indexed by parallel arrays (`EventRing`), bodies assembled from those bytes in pooled buffers.
 * The engine then holds no JS object per queued event; see byte-arena.ts for why that matters.
 */
export function packedEventBuffer(config: EventBufferConfig): EventBuffer {
  return new PackedEventBuffer(config);
}

class PackedEventBuffer implements EventBuffer {
  readonly #ring = new EventRing(1024);
  readonly #arena: ByteArena;
  readonly #bodies: BatchBodyBuilder;
  readonly envelopeBytes: number;

  constructor(config: EventBufferConfig) {
    this.#arena = new ByteArena(Math.max(1024 * 1024, config.maxEventBytes * 4));
    this.#bodies = new BatchBodyBuilder(config.bodyFields, config.maxBatchBytes, config.maxConcurrentRequests);
    this.envelopeBytes = this.#bodies.envelopeBytes;
  }

  get length(): number {
    return this.#ring.count;
  }

  get bytes(): number {
    return this.#ring.bytes;
  }

  /** The ring's array index of the `i`-th oldest queued event. */
  #at(i: number): number {
    return this.#ring.length - this.#ring.count + i;
  }

  seq(i: number): number {
    return this.#ring.seqs[this.#at(i)] as number;
  }

  id(i: number): string {
    return this.#ring.id(this.#at(i));
  }

  size(i: number): number {
    return this.#ring.jsonLengths[this.#at(i)] as number;
  }

  slice(from: number, to: number): EventRun {
    return this.#ring.slice(this.#at(from), this.#at(to));
  }

  stage(messageId: string, json: string): number {
    this.#arena.writePair(messageId, json);
    return this.#arena.lastSecondBytes;
  }

  push(seq: number): void {
    const a = this.#arena;
    this.#ring.push(seq, a.lastChunk, a.lastOffset, a.lastFirstBytes, a.lastSecondBytes);
  }

  restore(events: readonly PersistedEvent[], firstSeq: number): void {
    const restored = new EventRing(events.length);
    let seq = firstSeq;
    for (const p of events) {
      this.stage(p.messageId, p.json);
      const a = this.#arena;
      restored.push(seq++, a.lastChunk, a.lastOffset, a.lastFirstBytes, a.lastSecondBytes);
    }
    this.#ring.prepend(restored);
  }

  shift(n: number): EventRun {
    return this.#ring.shift(n);
  }

  body(events: EventRun, attempt: number, sentAt: string): BuiltBatch {
    return this.#bodies.build(events as EventSlice, attempt, sentAt);
  }
}
