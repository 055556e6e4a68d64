import type { SqliteDatabase } from './open.js';

/** One row of the `settings` key-value table (salts, keys, watermarks), or undefined. */
export function readSetting(db: SqliteDatabase, key: string): string | undefined {
  return db.prepare('SELECT value FROM settings WHERE key = ?').pluck().get(key) as string | undefined;
}

/** Sets a `settings` row, replacing its value. */
export function writeSetting(db: SqliteDatabase, key: string, value: string): void {
  db.prepare(
    'INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value',
  ).run(key, value);
}
