import { closeSync, openSync, readSync } from 'node:fs';
import { FRAME_KIND, frameSizeAt, HEADER_BYTES, resync } from './frame.js';

/** What a visitor tells the reader: go on, stop after this record, or stop before it. */
export const VISIT = { NEXT: 1, STOP_AFTER: 0, STOP_BEFORE: -1 } as const;
type Visit = (typeof VISIT)[keyof typeof VISIT];

/** One event record as the reader hands it over. */
export interface EventRecord {
  messageId: string;
  json: string;
  /** UTF-8 bytes of `json`. */
  jsonBytes: number;
  /** Where the record starts in its file. */
  offset: number;
}

const CHUNK_BYTES = 256 * 1024;

/**
 * Reads a segment file's event records forward from an offset, a chunk at a time: paging spilled
 * events back must not load a whole file (or the whole spool) into memory. Damaged stretches
 * are skipped the way a restart skips them (it already warned about them).
 */
export class SegmentReader {
  private fd: number | undefined;
  private path = '';
  private buf = Buffer.allocUnsafe(CHUNK_BYTES);

  /**
   * Visits the event records of `path` from `offset` up to `end` (the bytes written so far)
   * until the visitor stops; returns the offset to resume from.
   */
  scan(path: string, offset: number, end: number, visit: (record: EventRecord) => Visit): number {
    this.open(path);
    let at = offset;
    while (at < end) {
      const n = readSync(this.fd as number, this.buf, 0, Math.min(this.buf.length, end - at), at);
      if (n === 0) return end;
      const last = at + n >= end;
      let p = 0;
      while (p < n) {
        const size = frameSizeAt(this.buf, p, n);
        if (size === 0 && !last) break;
        if (size <= 0) {
          p = resync(this.buf, p, n);
          continue;
        }
        if (this.buf[p + 2] === FRAME_KIND.EVENT) {
          const from = p + HEADER_BYTES;
          const nl = this.buf.indexOf(0x0a, from);
          if (nl > from && nl < p + size) {
            const verdict = visit({
              messageId: this.buf.toString('utf8', from, nl),
              json: this.buf.toString('utf8', nl + 1, p + size),
              jsonBytes: p + size - nl - 1,
              offset: at + p,
            });
            if (verdict === VISIT.STOP_BEFORE) return at + p;
            if (verdict === VISIT.STOP_AFTER) return at + p + size;
          }
        }
        p += size;
      }
      if (p === 0) {
        // A record larger than the buffer starts here: grow to hold it, then read again.
        this.buf = Buffer.allocUnsafe(Math.min(end - at, HEADER_BYTES + this.buf.readUInt32LE(4)));
        continue;
      }
      at += p;
    }
    return at;
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    this.path = '';
  }

  private open(path: string): void {
    if (this.path === path) return;
    this.close();
    this.fd = openSync(path, 'r');
    this.path = path;
  }
}
