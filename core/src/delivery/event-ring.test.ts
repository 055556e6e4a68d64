import { describe, expect, it } from 'vitest';
import { ByteArena, utf8Decoder } from './byte-arena.js';
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
    const all = r.take(1000, 1e9);
    expect(all.id(0)).toBe('id-1');
    expect(json(all, 99)).toBe('{"i":100,"name":"Çağrı"}');
    expect(all.bytes).toBe(all.ids().reduce((n, _, i) => n + new TextEncoder().encode(json(all, i)).length, 0));
    expect(r.count).toBe(0);
    expect(r.headSeq).toBe(Number.POSITIVE_INFINITY);
  });

  it('takes by count and by bytes, always at least one', () => {
    const r = ring(10);
    expect(r.take(3, 1e9).ids()).toEqual(['id-1', 'id-2', 'id-3']);
    const oneEventBytes = '{"i":4}'.length + 1;
    expect(r.take(100, oneEventBytes * 2).length).toBe(2);
    expect(r.take(100, 1).length).toBe(1);
    expect(r.headSeq).toBe(7);
    expect(r.countUpTo(8)).toBe(2);
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
    expect(r.take(3, 1e9).ids()).toEqual(['id-1', 'id-2', 'id-5001']);
  });
});
