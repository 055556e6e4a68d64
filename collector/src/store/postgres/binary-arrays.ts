/**
 * Array parameters in PostgreSQL's binary format (what `array_send` writes, `array_recv` reads).
 * pg sends a Buffer parameter as binary, so `unnest($1::text[])` gets each element as length +
 * bytes: no quoting or backslash-escaping of every JSON payload in JavaScript and no `array_in`
 * parse on the server. Measured on 1000-event commits: the text literal cost ~10 µs of collector
 * CPU per event, most of an insert's client-side work.
 */

const TEXT_OID = 25;
const INT8_OID = 20;
const INT4_OID = 23;
const BOOL_OID = 16;
const TWO_32 = 4294967296;

/** ndim, has-null flag, element type, then the one dimension's length and lower bound (1). */
function header(size: number, length: number, hasNull: boolean, oid: number): { buf: Buffer; at: number } {
  if (length === 0) {
    const buf = Buffer.alloc(12);
    buf.writeInt32BE(0, 0);
    buf.writeInt32BE(0, 4);
    buf.writeInt32BE(oid, 8);
    return { buf, at: 12 };
  }
  const buf = Buffer.allocUnsafe(20 + size);
  buf.writeInt32BE(1, 0);
  buf.writeInt32BE(hasNull ? 1 : 0, 4);
  buf.writeInt32BE(oid, 8);
  buf.writeInt32BE(length, 12);
  buf.writeInt32BE(1, 16);
  return { buf, at: 20 };
}

/**
 * A `text[]` parameter; null elements are SQL NULL. PostgreSQL text cannot hold U+0000 and would
 * fail the whole group commit (every request in it answered 503, again on each retry), so NUL
 * becomes U+FFFD, as an invalid byte does in a UTF-8 decoder. JSON payloads never contain a raw
 * NUL (JSON escapes it); names and identifier values can.
 */
export function textArray(values: readonly (string | null)[]): Buffer {
  let size = 0;
  let hasNull = false;
  const lengths = new Array<number>(values.length);
  let clean: (string | null)[] | null = null;
  for (let i = 0; i < values.length; i++) {
    let v = values[i];
    if (v?.includes('\u0000')) {
      v = v.replaceAll('\u0000', '\uFFFD');
      clean ??= [...values];
      clean[i] = v;
    }
    if (v === null || v === undefined) {
      hasNull = true;
      lengths[i] = -1;
      size += 4;
    } else {
      const n = Buffer.byteLength(v);
      lengths[i] = n;
      size += 4 + n;
    }
  }
  const { buf, at } = header(size, values.length, hasNull, TEXT_OID);
  const out = clean ?? values;
  let o = at;
  for (let i = 0; i < values.length; i++) {
    const n = lengths[i] as number;
    buf.writeInt32BE(n, o);
    o += 4;
    if (n > 0) o += buf.write(out[i] as string, o);
  }
  return buf;
}

/**
 * Strings encoded at once as `text[]` elements (length + UTF-8) in one off-heap buffer, for an
 * array built later from some of them (`encodedTextArray`). Why: a group commit holds its requests
 * across several round trips, and JavaScript strings held that long survive young-generation
 * collections, which copy them; bytes in a Buffer are not copied (measured on the benchmark's
 * ~650-byte payloads: about 600 bytes promoted per event, and a third of the scavenge pauses).
 * Only for strings without U+0000 (JSON payloads: JSON escapes it), as `textArray` replaces it.
 */
export interface EncodedTexts {
  bytes: Buffer;
  /** Element i is bytes[at[i], at[i + 1]). */
  at: Uint32Array;
}

export function encodeTexts(values: readonly string[]): EncodedTexts {
  const at = new Uint32Array(values.length + 1);
  let size = 0;
  for (let i = 0; i < values.length; i++) {
    size += 4 + Buffer.byteLength(values[i] as string);
    at[i + 1] = size;
  }
  const bytes = Buffer.allocUnsafe(size);
  for (let i = 0; i < values.length; i++) {
    const o = at[i] as number;
    bytes.writeInt32BE((at[i + 1] as number) - o - 4, o);
    bytes.write(values[i] as string, o + 4);
  }
  return { bytes, at };
}

/** A `text[]` parameter of the chosen encoded elements (`[texts, index]`), in that order. */
export function encodedTextArray(picks: readonly (readonly [EncodedTexts, number])[]): Buffer {
  let size = 0;
  for (const [t, i] of picks) size += (t.at[i + 1] as number) - (t.at[i] as number);
  const { buf, at } = header(size, picks.length, false, TEXT_OID);
  let o = at;
  for (const [t, i] of picks) o += t.bytes.copy(buf, o, t.at[i] as number, t.at[i + 1] as number);
  return buf;
}

function fixedArray(
  values: readonly (number | boolean | null)[],
  oid: number,
  width: number,
  write: (buf: Buffer, v: number | boolean, at: number) => void,
): Buffer {
  let hasNull = false;
  let size = 0;
  for (const v of values) {
    if (v === null || v === undefined) hasNull = true;
    size += v === null || v === undefined ? 4 : 4 + width;
  }
  const { buf, at } = header(size, values.length, hasNull, oid);
  let o = at;
  for (const v of values) {
    if (v === null || v === undefined) {
      buf.writeInt32BE(-1, o);
      o += 4;
      continue;
    }
    buf.writeInt32BE(width, o);
    write(buf, v, o + 4);
    o += 4 + width;
  }
  return buf;
}

/** A `bigint[]` parameter of safe integers (every id and millisecond time Kimlik stores). */
export function int8Array(values: readonly (number | null)[]): Buffer {
  return fixedArray(values, INT8_OID, 8, (buf, v, at) => {
    const n = v as number;
    if (!Number.isSafeInteger(n)) throw new RangeError(`not a safe integer for bigint: ${n}`);
    const hi = Math.floor(n / TWO_32);
    buf.writeInt32BE(hi, at);
    buf.writeUInt32BE(n - hi * TWO_32, at + 4);
  });
}

/** An `int[]` parameter. */
export function int4Array(values: readonly (number | null)[]): Buffer {
  return fixedArray(values, INT4_OID, 4, (buf, v, at) => {
    buf.writeInt32BE(v as number, at);
  });
}

/** A `boolean[]` parameter. */
export function boolArray(values: readonly (boolean | null)[]): Buffer {
  return fixedArray(values, BOOL_OID, 1, (buf, v, at) => {
    buf.writeUInt8(v ? 1 : 0, at);
  });
}

/** `{1,2,3}`: an int8 array sent back as text, cheaper to split than thousands of result rows. */
export const parseIds = (text: string | null | undefined): number[] =>
  !text || text.length <= 2 ? [] : text.slice(1, -1).split(',').map(Number);
