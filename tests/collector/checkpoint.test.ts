import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { sendBatch, startTestCollector, type TestCollector, tempDir } from '../helpers/collector.js';

let c: TestCollector | undefined;
const dir = tempDir();
afterEach(async () => {
  await c?.close();
  c = undefined;
  dir.remove();
});

/**
 * Committed events reach the SQLite database file itself while the collector runs, not only its
 * write-ahead log: the checkpoint thread copies them there, so the writer's commits need not.
 */
it('the checkpoint thread copies committed events from the write-ahead log into the database file', async () => {
  const path = join(dir.path, 'kimlik.db');
  c = await startTestCollector({ database: path });
  const marker = 'checkpointed-marker-7kq2';
  await sendBatch(c, [{ type: 'track', anonymousId: 'd-checkpoint', event: 'Viewed', properties: { note: marker } }]);
  expect(readFileSync(`${path}-wal`).includes(marker)).toBe(true);
  const deadline = Date.now() + 15_000;
  while (!readFileSync(path).includes(marker) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
  }
  expect(readFileSync(path).includes(marker)).toBe(true);
  // Closing still leaves one clean file: the threads stopped in order, the last one emptied the log.
  await c.close();
  c = undefined;
  expect(existsSync(`${path}-wal`)).toBe(false);
  expect(readFileSync(path).includes(marker)).toBe(true);
});
