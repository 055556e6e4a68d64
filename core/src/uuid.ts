/** The Web Crypto global both browsers and Node >= 19 expose; typed here so core needs no DOM lib. */
declare const crypto: { getRandomValues<T extends Uint8Array>(array: T): T };

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

// One getRandomValues call per 256 IDs: in Node each call costs microseconds, which dominated
// a burst of track() calls; the bytes are still from the CSPRNG and used once each.
const POOL_BYTES = 16 * 256;
let pool = new Uint8Array(0);
let poolOffset = POOL_BYTES;

function randomBytes16(): Uint8Array {
  if (poolOffset >= pool.length) {
    pool = crypto.getRandomValues(new Uint8Array(POOL_BYTES));
    poolOffset = 0;
  }
  const b = pool.subarray(poolOffset, poolOffset + 16);
  poolOffset += 16;
  return b;
}

/**
 * RFC 9562 UUIDv7: 48-bit Unix milliseconds then random bits. Time-ordered IDs keep the
 * collector's dedup index append-mostly. Within one millisecond order is random, which dedup
 * does not need, unless the caller counts events within the millisecond in `randA` (12 bits,
 * RFC 9562 §6.2 method 1), which then replaces the random `rand_a`.
 */
export function uuidv7(nowMs: number = Date.now(), randA?: number): string {
  const b = randomBytes16();
  let t = nowMs;
  for (let i = 5; i >= 0; i--) {
    b[i] = t % 256;
    t = Math.floor(t / 256);
  }
  if (randA !== undefined) b[7] = randA;
  b[6] = ((randA === undefined ? (b[6] ?? 0) : randA >> 8) & 0x0f) | 0x70;
  b[8] = ((b[8] ?? 0) & 0x3f) | 0x80;
  let s = '';
  for (let i = 0; i < 16; i++) {
    s += HEX[b[i] ?? 0];
    if (i === 3 || i === 5 || i === 7 || i === 9) s += '-';
  }
  return s;
}

/** Milliseconds since the epoch encoded in a UUIDv7, or null for any other string. */
export function uuidv7Time(id: string): number | null {
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i.test(id)) return null;
  return Number.parseInt(id.slice(0, 8) + id.slice(9, 13), 16);
}
