import { crc32 } from 'node:zlib';

/**
 * One record in a segment file:
 *   magic "KS" (2) | kind (1) | reserved (1) | payload length u32 LE (4) | CRC-32 of payload u32 LE (4) | payload
 * The length and checksum let a reader tell a record cut short by a crash (or flipped bits)
 * from a good one; the magic lets it find the next good record after a damaged one.
 */
export const HEADER_BYTES = 12;
const MAGIC0 = 0x4b; // K
const MAGIC1 = 0x53; // S

export const FRAME_KIND = { EVENT: 0x45, ACK: 0x41 } as const;
export type FrameKind = (typeof FRAME_KIND)[keyof typeof FRAME_KIND];

/** Largest payload a reader accepts; anything bigger is a corrupt length field. */
export const MAX_PAYLOAD_BYTES = 64 * 1024 * 1024;

let scratch = Buffer.allocUnsafe(64 * 1024);

/**
 * Encodes one record. Small records are written into a reused scratch buffer (the result is only
 * valid until the next call): one allocation per `track()` less on the spool's hot path.
 */
export function encodeFrame(kind: FrameKind, payload: string): Buffer {
  // A UTF-16 unit is at most 3 UTF-8 bytes, so this bound never truncates.
  const bound = HEADER_BYTES + payload.length * 3;
  if (bound > scratch.length) {
    if (bound <= 1024 * 1024) scratch = Buffer.allocUnsafe(bound * 2);
    else return encodeInto(Buffer.allocUnsafe(HEADER_BYTES + Buffer.byteLength(payload)), kind, payload);
  }
  return encodeInto(scratch, kind, payload);
}

function encodeInto(buf: Buffer, kind: FrameKind, payload: string): Buffer {
  const length = buf.write(payload, HEADER_BYTES, 'utf8');
  buf[0] = MAGIC0;
  buf[1] = MAGIC1;
  buf[2] = kind;
  buf[3] = 0;
  buf.writeUInt32LE(length, 4);
  const body = buf.subarray(HEADER_BYTES, HEADER_BYTES + length);
  buf.writeUInt32LE(crc32(body), 8);
  return buf.subarray(0, HEADER_BYTES + length);
}

export interface DecodedFrame {
  kind: FrameKind;
  payload: string;
  /** Where the record starts in the buffer. */
  offset: number;
}

export interface DecodeReport {
  frames: DecodedFrame[];
  /** Byte ranges that were skipped as damaged (a truncated tail or a corrupt record). */
  damaged: { offset: number; bytes: number }[];
}

/**
 * Size of the record at `at` if it is intact within `buf[0, end)`; 0 when its header is sane but
 * it runs past `end` (a reader of a chunk may read on); -1 when it is not a record.
 */
export function frameSizeAt(buf: Buffer, at: number, end = buf.length): number {
  if (at + HEADER_BYTES > end) return 0;
  if (buf[at] !== MAGIC0 || buf[at + 1] !== MAGIC1) return -1;
  const kind = buf[at + 2];
  if (kind !== FRAME_KIND.EVENT && kind !== FRAME_KIND.ACK) return -1;
  const length = buf.readUInt32LE(at + 4);
  if (length > MAX_PAYLOAD_BYTES) return -1;
  if (at + HEADER_BYTES + length > end) return 0;
  const payload = buf.subarray(at + HEADER_BYTES, at + HEADER_BYTES + length);
  if (crc32(payload) !== buf.readUInt32LE(at + 8)) return -1;
  return HEADER_BYTES + length;
}

/** Offset of the next intact record after `from`, or `end`. */
export function resync(buf: Buffer, from: number, end = buf.length): number {
  let next = buf.indexOf(MAGIC0, from + 1);
  while (next >= 0 && next < end && frameSizeAt(buf, next, end) <= 0) next = buf.indexOf(MAGIC0, next + 1);
  return next < 0 || next > end ? end : next;
}

/** Reads every intact record; damaged stretches are skipped up to the next intact record. */
export function decodeFrames(buf: Buffer): DecodeReport {
  const frames: DecodedFrame[] = [];
  const damaged: { offset: number; bytes: number }[] = [];
  let at = 0;
  while (at < buf.length) {
    const size = frameSizeAt(buf, at);
    if (size > 0) {
      frames.push({
        kind: buf[at + 2] as FrameKind,
        payload: buf.toString('utf8', at + HEADER_BYTES, at + size),
        offset: at,
      });
      at += size;
      continue;
    }
    const start = at;
    at = resync(buf, at);
    damaged.push({ offset: start, bytes: at - start });
  }
  return { frames, damaged };
}
