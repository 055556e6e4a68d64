import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { ResolvedSpoolOptions } from '../options.js';
import { DiskSpool } from './disk-spool.js';

/** While set, every write to a spool file fails as on a full disk. */
const disk = vi.hoisted(() => ({ full: false }));
vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs')>();
  const writeSync = ((...args: Parameters<typeof fs.writeSync>) => {
    if (disk.full) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    return (fs.writeSync as (...a: unknown[]) => number)(...args);
  }) as typeof fs.writeSync;
  return { ...fs, default: { ...fs, writeSync }, writeSync };
});

const dirs: string[] = [];
afterEach(() => {
  disk.full = false;
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function options(): ResolvedSpoolOptions {
  const dir = mkdtempSync(join(tmpdir(), 'kimlik-spool-'));
  dirs.push(dir);
  return { dir, maxBytes: 1024 * 1024, segmentBytes: 4096, fsync: false };
}
const segments = (dir: string) => readdirSync(dir).filter((n) => n.endsWith('.kspool'));
const event = (i: number) => `{"type":"track","event":"e","userId":"u","messageId":"m-${i}","properties":{"i":${i}}}`;

describe('DiskSpool on a full disk (ENOSPC)', () => {
  it('deletes fully acknowledged files although the acknowledgement cannot be written, and a restart resends nothing', () => {
    const o = options();
    const s = new DiskSpool(o, () => undefined);
    for (let i = 0; i < 200; i++) s.append(`m-${i}`, event(i));
    expect(segments(o.dir).length).toBeGreaterThan(3);
    disk.full = true;
    // The engine reports the failed write (KIMLIK_DELIVERY_STORAGE); the files must still go.
    expect(() => s.remove(Array.from({ length: 200 }, (_, i) => `m-${i}`))).toThrow(/ENOSPC/);
    expect(segments(o.dir)).toHaveLength(1);
    expect(s.liveEvents).toBe(0);
    expect(() => s.append('m-late', event(200))).toThrow(/ENOSPC/);
    disk.full = false;
    s.close();
    // What shutdown() reported (nothing unacknowledged) is what the next process finds.
    expect(segments(o.dir)).toEqual([]);
    const next = new DiskSpool(o, () => undefined);
    expect(next.backlog).toBe(0);
    next.close();
  });

  it('space freed by acknowledgements lets appends go on after the disk was full', () => {
    const o = options();
    const s = new DiskSpool(o, () => undefined);
    for (let i = 0; i < 100; i++) s.append(`m-${i}`, event(i));
    disk.full = true;
    expect(() => s.remove(Array.from({ length: 100 }, (_, i) => `m-${i}`))).toThrow(/ENOSPC/);
    disk.full = false;
    s.append('m-after', event(100));
    s.remove(['m-after']);
    expect(s.liveEvents).toBe(0);
    s.append('m-kept', event(101));
    s.close();
    const next = new DiskSpool(o, () => undefined);
    expect(next.next(10, 1e9).map((e) => e.messageId)).toEqual(['m-kept']);
    next.close();
  });
});
