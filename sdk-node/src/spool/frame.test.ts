import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeFrames, encodeFrame, FRAME_KIND } from './frame.js';

const records = (payloads: string[]) =>
  Buffer.concat(payloads.map((p) => Buffer.from(encodeFrame(FRAME_KIND.EVENT, p))));

describe('segment framing', () => {
  it('round-trips records, including multi-byte UTF-8', () => {
    const payloads = ['a\n{"x":1}', 'b\n{"name":"Çağrı ✓ 🎉"}', 'c\n{}'];
    const { frames, damaged } = decodeFrames(records(payloads));
    expect(frames.map((f) => f.payload)).toEqual(payloads);
    expect(damaged).toEqual([]);
  });

  it('skips a truncated tail and keeps everything before it', () => {
    const buf = records(['a\n1', 'b\n2', 'c\n3']);
    const { frames, damaged } = decodeFrames(buf.subarray(0, buf.length - 2));
    expect(frames.map((f) => f.payload)).toEqual(['a\n1', 'b\n2']);
    expect(damaged).toHaveLength(1);
  });

  it('never throws on damage and returns only intact records, in order', () => {
    const payloads = Array.from({ length: 20 }, (_, i) => `id-${i}\n{"i":${i},"pad":"${'x'.repeat(i * 3)}"}`);
    const clean = records(payloads);
    fc.assert(
      fc.property(
        fc.array(fc.record({ at: fc.nat(clean.length - 1), value: fc.nat(255) }), { maxLength: 8 }),
        fc.nat(clean.length),
        (flips, cut) => {
          const buf = Buffer.from(clean.subarray(0, cut));
          for (const f of flips) if (f.at < buf.length) buf[f.at] = f.value;
          const decoded = decodeFrames(buf).frames.map((f) => f.payload);
          let last = -1;
          for (const p of decoded) {
            const i = payloads.indexOf(p);
            expect(i).toBeGreaterThan(last);
            last = i;
          }
        },
      ),
      { seed: 42, numRuns: 300 },
    );
  });
});
