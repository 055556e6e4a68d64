import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { tempDir } from '../../../../tests/helpers/collector.js';
import { migrate, openDatabase, type SqliteDatabase } from './open.js';
import { StatsReader } from './stats-reader.js';

const MINUTE = 60_000;
const T0 = Date.UTC(2026, 10, 23, 12, 0, 0);

let cleanup: (() => void) | null = null;
afterEach(() => {
  cleanup?.();
  cleanup = null;
});

function open(): SqliteDatabase {
  const dir = tempDir();
  const db = openDatabase(join(dir.path, 's.db'), { synchronous: 'NORMAL' });
  migrate(db);
  cleanup = () => {
    db.close();
    dir.remove();
  };
  return db;
}

let seq = 0;
function insert(db: SqliteDatabase, receivedAt: number, type: string, name: string | null, n = 1): void {
  const stmt = db.prepare(
    'INSERT INTO events (source_id, message_id, type, name, ts, received_at, payload) VALUES (1, ?, ?, ?, ?, ?, ?)',
  );
  for (let i = 0; i < n; i++) stmt.run(`m${seq++}`, type, name, receivedAt, receivedAt, '{}');
}

const window = (nowMs: number, minutes: number) => {
  const untilMs = Math.ceil((nowMs + 1) / MINUTE) * MINUTE;
  return { sinceMs: untilMs - minutes * MINUTE, untilMs, bucketMs: MINUTE, top: 3 };
};

describe('StatsReader', () => {
  it('counts events per bucket by receipt time, zero-filled, and the top (type, name) pairs', () => {
    const db = open();
    insert(db, T0 - 90 * MINUTE, 'track', 'Too Old', 5);
    insert(db, T0 - 30 * MINUTE + 1, 'track', 'Signed Up', 3);
    insert(db, T0 - 30 * MINUTE + 2, 'page', 'Home', 4);
    insert(db, T0 - 5 * MINUTE, 'identify', null, 2);
    insert(db, T0 + 10, 'track', 'Signed Up', 1);
    const reader = new StatsReader(db);
    const stats = reader.stats(window(T0 + 20, 60), T0 + 20);
    expect(stats.buckets).toHaveLength(60);
    expect(stats.buckets.filter((b) => b.events > 0).map((b) => [(b.startMs - T0) / MINUTE, b.events])).toEqual([
      [-30, 7],
      [-5, 2],
      [0, 1],
    ]);
    expect(stats.totals.events).toBe(10);
    expect(stats.topEvents).toEqual([
      { type: 'page', name: 'Home', events: 4 },
      { type: 'track', name: 'Signed Up', events: 4 },
      { type: 'identify', name: null, events: 2 },
    ]);
  });

  it('remembers settled buckets and recounts only recent ones on a refresh', () => {
    const db = open();
    insert(db, T0 - 30 * MINUTE, 'track', 'A', 2);
    insert(db, T0 + 10, 'track', 'A', 1);
    const reader = new StatsReader(db);
    expect(reader.stats(window(T0 + 20, 60), T0 + 20).totals.events).toBe(3);
    // Rows leaving a settled bucket (an erasure) still count there, which shows the bucket was
    // not scanned again; the current minute is.
    db.prepare('DELETE FROM events WHERE received_at = ?').run(T0 - 30 * MINUTE);
    insert(db, T0 + 30, 'track', 'B', 1);
    const again = reader.stats(window(T0 + 40, 60), T0 + 40);
    expect(again.totals.events).toBe(4);
    expect(again.topEvents).toEqual([
      { type: 'track', name: 'A', events: 3 },
      { type: 'track', name: 'B', events: 1 },
    ]);
  });

  it('answers an empty table', () => {
    const stats = new StatsReader(open()).stats(window(T0, 60), T0);
    expect(stats.totals).toEqual({ events: 0, profiles: 0, merges: 0 });
    expect(stats.buckets.every((b) => b.events === 0)).toBe(true);
  });
});
