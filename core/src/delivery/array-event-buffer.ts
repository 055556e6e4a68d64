import { utf8Length } from '../validate.js';
import {
  batchJson,
  bodySuffix,
  type EventBuffer,
  type EventBufferConfig,
  type EventRun,
  envelopeBytes,
} from './event-buffer.js';

// Text encoder every runtime has, declared so core needs no DOM lib.
declare class TextEncoder {
  encode(input: string): Uint8Array;
}

/** One event: seq, messageId, JSON, its UTF-8 bytes. */
type Entry = [number, string, string, number];

class EntryRun implements EventRun {
  readonly bytes: number;
  constructor(public entries: Entry[]) {
    let bytes = 0;
    for (const e of entries) bytes += e[3];
    this.bytes = bytes;
  }
  get length(): number {
    return this.entries.length;
  }
  seq(i: number): number {
    return (this.entries[i] as Entry)[0];
  }
  id(i: number): string {
    return (this.entries[i] as Entry)[1];
  }
  size(i: number): number {
    return (this.entries[i] as Entry)[3];
  }
  slice(from: number, to: number): EventRun {
    return new EntryRun(this.entries.slice(from, to));
  }
}

/**
 * The default event buffer: an array of strings, bodies joined as strings. Small in code, which
 * is what a browser pays for; a queue of a few thousand events costs an object each, which a
 * browser can afford and a Node burst of 100 000 cannot (see `packedEventBuffer`).
 */
export function arrayEventBuffer(config: EventBufferConfig): EventBuffer {
  const suffix = bodySuffix(config.bodyFields);
  let staged: Entry = [0, '', '', 0];
  const queue = new (class extends EntryRun implements EventBuffer {
    override bytes = 0;
    envelopeBytes = envelopeBytes(suffix);
    stage(messageId: string, json: string): number {
      staged = [0, messageId, json, utf8Length(json)];
      return staged[3];
    }
    push(seq: number): void {
      staged[0] = seq;
      this.entries.push(staged);
      this.bytes += staged[3];
    }
    restore(events: readonly { messageId: string; json: string }[], firstSeq: number): void {
      const run = new EntryRun(events.map((p, i) => [firstSeq + i, p.messageId, p.json, utf8Length(p.json)]));
      this.entries = run.entries.concat(this.entries);
      this.bytes += run.bytes;
    }
    shift(n: number): EventRun {
      const run = new EntryRun(this.entries.splice(0, n));
      this.bytes -= run.bytes;
      return run;
    }
    body(events: EventRun, attempt: number, sentAt: string) {
      const run = events as EntryRun;
      const body = batchJson(
        run.entries.map((e) => e[2]),
        sentAt,
        suffix,
      );
      return {
        body,
        attempt,
        messageIds: run.entries.map((e) => e[1]),
        get bytes() {
          return new TextEncoder().encode(body);
        },
      };
    }
  })([]);
  return queue;
}
