import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ResolvedSpoolOptions } from '../options.js';
import { DiskSpool } from './disk-spool.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function options(overrides: Partial<ResolvedSpoolOptions> = {}): ResolvedSpoolOptions {
  const dir = mkdtempSync(join(tmpdir(), 'kimlik-spool-'));
  dirs.push(dir);
  return { dir, maxBytes: 1024 * 1024, segmentBytes: 4096, fsync: false, ...overrides };
}
const segments = (dir: string) => readdirSync(dir).filter((n) => n.endsWith('.kspool'));
const event = (i: number) => `{"type":"track","event":"e","userId":"u","messageId":"m-${i}","properties":{"i":${i}}}`;

describe('DiskSpool', () => {
  it('restores exactly the unacknowledged events, in order', () => {
    const o = options();
    const a = new DiskSpool(o, () => undefined);
    for (let i = 0; i < 10; i++) a.append(`m-${i}`, event(i));
    a.remove(['m-0', 'm-3', 'm-9']);
    a.close();
    const b = new DiskSpool(o, () => undefined);
    expect(b.backlog).toBe(7);
    const restored = b.next(100, 1e9);
    expect(restored.map((e) => e.messageId)).toEqual(['m-1', 'm-2', 'm-4', 'm-5', 'm-6', 'm-7', 'm-8']);
    expect(restored[0]?.json).toBe(event(1));
    expect(b.liveEvents).toBe(7);
    expect(b.next(100, 1e9)).toEqual([]);
    b.close();
  });

  it('rotates segments and deletes them, oldest first, once acknowledged', () => {
    const o = options();
    const s = new DiskSpool(o, () => undefined);
    for (let i = 0; i < 200; i++) s.append(`m-${i}`, event(i));
    expect(segments(o.dir).length).toBeGreaterThan(3);
    s.remove(Array.from({ length: 199 }, (_, i) => `m-${i + 1}`));
    // m-0 lives in the first file, which pins the newer ones (their acks refer to older files).
    expect(segments(o.dir).length).toBeGreaterThan(3);
    s.remove(['m-0']);
    expect(segments(o.dir)).toHaveLength(1);
    s.close();
    expect(segments(o.dir)).toEqual([]);
  });

  it('bounds disk use: a stuck old event is copied forward so old files can go', () => {
    const warnings: string[] = [];
    const o = options({ maxBytes: 3 * 4096 });
    const s = new DiskSpool(o, (m) => warnings.push(m));
    s.append('stuck', event(-1));
    for (let i = 0; i < 2000; i++) {
      s.append(`m-${i}`, event(i));
      s.remove([`m-${i}`]);
    }
    expect(s.diskBytes).toBeLessThanOrEqual(4 * 4096);
    expect(warnings).toEqual([]);
    s.close();
    const again = new DiskSpool(o, () => undefined);
    expect(again.next(10, 1e9).map((e) => e.messageId)).toEqual(['stuck']);
    again.close();
  });

  it('pages spilled events back oldest first, within the bounds asked, across files and a restart', () => {
    const o = options();
    const s = new DiskSpool(o, () => undefined);
    s.append('m-0', event(0));
    for (let i = 1; i < 300; i++) expect(s.spill(`m-${i}`, event(i))).toBe(true);
    expect(segments(o.dir).length).toBeGreaterThan(3);
    expect(s.backlog).toBe(299);
    const first = s.next(5, 1e9);
    expect(first.map((e) => e.messageId)).toEqual(['m-1', 'm-2', 'm-3', 'm-4', 'm-5']);
    // Bytes bound the page too, but at least one event comes back.
    expect(s.next(100, 1).map((e) => e.messageId)).toEqual(['m-6']);
    s.remove(['m-0', 'm-1', 'm-2', 'm-3', 'm-4', 'm-5', 'm-6']);
    s.close();
    const again = new DiskSpool(o, () => undefined);
    expect(again.backlog).toBe(293);
    const ids: string[] = [];
    for (let page = again.next(50, 1e9); page.length > 0; page = again.next(50, 1e9)) {
      ids.push(...page.map((e) => e.messageId));
      again.remove(page.map((e) => e.messageId));
    }
    expect(ids).toEqual(Array.from({ length: 293 }, (_, i) => `m-${i + 7}`));
    again.close();
    expect(segments(o.dir)).toEqual([]);
  });

  it('refuses spilled events at maxBytes and takes them again once acknowledged space is freed', () => {
    const warnings: string[] = [];
    const o = options({ maxBytes: 2 * 4096 });
    const s = new DiskSpool(o, (m) => warnings.push(m));
    let accepted = 0;
    while (s.spill(`m-${accepted}`, event(accepted))) accepted++;
    expect(s.diskBytes).toBeGreaterThanOrEqual(2 * 4096);
    expect(s.diskBytes).toBeLessThan(3 * 4096);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/is full/);
    for (let page = s.next(1000, 1e9); page.length > 0; page = s.next(1000, 1e9))
      s.remove(page.map((e) => e.messageId));
    expect(s.spill('later', event(-1))).toBe(true);
    // Full again later: warned again.
    for (let i = 0; s.spill(`n-${i}`, event(i)); i++);
    expect(warnings).toHaveLength(2);
    s.close();
  });

  it('pages around a corrupt record in the middle of a file, after warning once at restart', () => {
    const o = options({ segmentBytes: 1024 * 1024 });
    const a = new DiskSpool(o, () => undefined);
    a.append('m-0', event(0));
    for (let i = 1; i < 40; i++) a.spill(`m-${i}`, event(i));
    a.close();
    const file = join(o.dir, segments(o.dir)[0] as string);
    const bytes = readFileSync(file);
    // Flip a byte inside the 21st record's JSON: its checksum no longer matches.
    const at = bytes.indexOf('"i":20}');
    bytes[at + 5] = 0x39;
    writeFileSync(file, bytes);
    const warnings: string[] = [];
    const b = new DiskSpool(o, (m) => warnings.push(m));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(file);
    expect(b.backlog).toBe(39);
    const ids = b.next(100, 1e9).map((e) => e.messageId);
    expect(ids).toEqual(Array.from({ length: 40 }, (_, i) => `m-${i}`).filter((id) => id !== 'm-20'));
    b.remove(ids);
    b.close();
  });

  it('refuses a directory another live client holds', () => {
    const o = options();
    const s = new DiskSpool(o, () => undefined);
    expect(() => new DiskSpool(o, () => undefined)).toThrow(/in use by process/);
    s.close();
    new DiskSpool(o, () => undefined).close();
  });
});
