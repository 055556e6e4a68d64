import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { tempDir } from '../../../../tests/helpers/collector.js';
import { dedupHash } from '../../ingest/hash.js';
import { DUPLICATE, EventWriter, ROW_WIDTH, STORED } from './event-writer.js';
import { migrate, openDatabase, type SqliteDatabase } from './open.js';

const dirs: { remove: () => void }[] = [];
const dbs: SqliteDatabase[] = [];
afterEach(() => {
  for (const db of dbs.splice(0)) db.close();
  for (const d of dirs.splice(0)) d.remove();
});

function open(path?: string) {
  let p = path;
  if (!p) {
    const dir = tempDir();
    dirs.push(dir);
    p = join(dir.path, 'w.db');
  }
  const db = openDatabase(p, { synchronous: 'NORMAL' });
  migrate(db);
  dbs.push(db);
  return { db, path: p };
}

function rows(ids: string[], opts: { sourceId?: number; hash?: (id: string) => number } = {}): unknown[] {
  const sourceId = opts.sourceId ?? 1;
  const out: unknown[] = [];
  for (const id of ids) {
    out.push(
      sourceId,
      opts.hash ? opts.hash(id) : dedupHash(sourceId, id),
      id,
      'track',
      'E',
      1,
      1,
      '{}',
      null,
      'u',
      null,
    );
  }
  expect(out.length).toBe(ids.length * ROW_WIDTH);
  return out;
}

const count = (db: SqliteDatabase) => db.prepare('SELECT count(*) FROM events').pluck().get() as number;

describe('EventWriter dedup', () => {
  it('stores each (source, messageId) once within a commit, across commits and across merges', () => {
    const { db } = open();
    const w = new EventWriter(db, null, 3);
    const [a] = w.write([rows(['m1', 'm2', 'm1'])]);
    expect([...(a as Uint8Array)]).toEqual([STORED, STORED, DUPLICATE]);
    const [b, c] = w.write([rows(['m2', 'm3', 'm4']), rows(['m4', 'm5'])]);
    expect([...(b as Uint8Array)]).toEqual([DUPLICATE, STORED, STORED]);
    expect([...(c as Uint8Array)]).toEqual([DUPLICATE, STORED]);
    // m1..m4 are being merged into the on-disk index by now (threshold 3); finish the steps.
    expect(w.recentKeys).toBeLessThan(3);
    expect(w.mergePending).toBe(true);
    while (w.mergeStep(1));
    expect(db.prepare('SELECT count(*) FROM dedup').pluck().get()).toBeGreaterThanOrEqual(4);
    const [d] = w.write([rows(['m1', 'm5', 'm6'])]);
    expect([...(d as Uint8Array)]).toEqual([DUPLICATE, DUPLICATE, STORED]);
    expect(count(db)).toBe(6);
  });

  it('the same messageId from another source is a different event', () => {
    const { db } = open();
    const w = new EventWriter(db);
    w.write([rows(['x'], { sourceId: 1 })]);
    const [o] = w.write([rows(['x'], { sourceId: 2 })]);
    expect([...(o as Uint8Array)]).toEqual([STORED]);
  });

  it('resolves hash collisions exactly, before and after a merge', () => {
    const { db } = open();
    const w = new EventWriter(db, null, 2);
    const same = () => 42;
    const [a] = w.write([rows(['c1', 'c2'], { hash: same })]);
    expect([...(a as Uint8Array)]).toEqual([STORED, STORED]);
    w.merge();
    const [b] = w.write([rows(['c1', 'c2', 'c3'], { hash: same })]);
    expect([...(b as Uint8Array)]).toEqual([DUPLICATE, DUPLICATE, STORED]);
    w.merge();
    const [c] = w.write([rows(['c3'], { hash: same })]);
    expect([...(c as Uint8Array)]).toEqual([DUPLICATE]);
    expect(count(db)).toBe(3);
  });

  it('recovers unmerged keys from the events table after a crash', () => {
    const first = open();
    const w = new EventWriter(first.db, null, 1000);
    w.write([rows(['r1', 'r2'])]);
    w.merge();
    w.write([rows(['r3', 'r4'])]);
    // No merge and no close: as if the process died here.
    const again = open(first.path);
    const w2 = new EventWriter(again.db, null, 1000);
    expect(w2.recentKeys).toBe(2);
    const [o] = w2.write([rows(['r1', 'r2', 'r3', 'r4', 'r5'])]);
    expect([...(o as Uint8Array)]).toEqual([DUPLICATE, DUPLICATE, DUPLICATE, DUPLICATE, STORED]);
    expect(count(again.db)).toBe(5);
  });

  it('keeps dedup exact while a merge runs in steps, and after a crash between steps', () => {
    const first = open();
    const w = new EventWriter(first.db, null, 4);
    w.write([rows(['s1', 's2', 's3', 's4'])]);
    expect(w.mergePending).toBe(true);
    expect(w.mergeStep(2)).toBe(true); // half of the keys are on disk, half still only in memory
    const [o] = w.write([rows(['s1', 's2', 's3', 's4', 's5'])]);
    expect([...(o as Uint8Array)]).toEqual([DUPLICATE, DUPLICATE, DUPLICATE, DUPLICATE, STORED]);
    // The process dies here, mid-merge: the watermark has not moved, the keys are read back.
    const again = open(first.path);
    const w2 = new EventWriter(again.db, null, 1000);
    const [p] = w2.write([rows(['s1', 's2', 's3', 's4', 's5', 's6'])]);
    expect([...(p as Uint8Array)]).toEqual([DUPLICATE, DUPLICATE, DUPLICATE, DUPLICATE, DUPLICATE, STORED]);
    w2.merge();
    expect(again.db.prepare('SELECT count(*) FROM dedup').pluck().get()).toBe(6);
    expect(count(again.db)).toBe(6);
  });
});
