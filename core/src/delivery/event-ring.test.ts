import { describe, expect, it } from 'vitest';
import { ByteArena, utf8Decoder } from './byte-arena.js';
import { idsOf } from './event-buffer.js';
import type { EventSlice } from './event-ring.js';
import { EventRing } from './event-ring.js';

/** The serialized event `i` of a slice (after its messageId's bytes in the chunk). */
const json = (s: EventSlice, i: number) => {
  const at = (s.offsets[i] as number) + (s.idLengths[i] as number);
  return utf8Decoder.decode((s.chunks[i] as Uint8Array).subarray(at, at + (s.jsonLengths[i] as number)));
};

function ring(n: number, arena = new ByteArena(256), jsonOf = (i: number) => `{"i":${i}}`) {
  const r = new EventRing(2);
  for (let i = 1; i <= n; i++) {
    arena.writePair(`id-${i}`, jsonOf(i));
    r.push(i, arena.lastChunk, arena.lastOffset, arena.lastFirstBytes, arena.lastSecondBytes);
  }
  return r;
}

describe('EventRing', () => {
  it('keeps ids and JSON across arena chunks, in order', () => {
    const r = ring(100, new ByteArena(64), (i) => `{"i":${i},"name":"Çağrı"}`);
    expect(r.count).toBe(100);
    const all = r.shift(100);
    expect(all.id(0)).toBe('id-1');
    expect(json(all, 99)).toBe('{"i":100,"name":"Çağrı"}');
    expect(all.bytes).toBe(idsOf(all).reduce((n, _, i) => n + new TextEncoder().encode(json(all, i)).length, 0));
    expect(r.count).toBe(0);
    expect(r.headSeq).toBe(Number.POSITIVE_INFINITY);
  });

  it('shifts from the head and slices by index', () => {
    const r = ring(10);
    expect(idsOf(r.shift(3))).toEqual(['id-1', 'id-2', 'id-3']);
    expect(r.headSeq).toBe(4);
    expect(r.count).toBe(7);
    const s = r.slice(r.length - 2, r.length);
    expect(idsOf(s)).toEqual(['id-9', 'id-10']);
    expect(s.seq(1)).toBe(10);
    expect(s.size(0)).toBe('{"i":9}'.length);
  });

  it('prepends restored events ahead of newer ones and compacts a long-consumed head', () => {
    const r = ring(6000);
    r.shift(5000);
    const restored = ring(2);
    restored.seqs[0] = -1;
    restored.seqs[1] = 0;
    r.prepend(restored);
    expect(r.count).toBe(1002);
    expect(r.headSeq).toBe(-1);
    expect(idsOf(r.shift(3))).toEqual(['id-1', 'id-2', 'id-5001']);
  });
});
