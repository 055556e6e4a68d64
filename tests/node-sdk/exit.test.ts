import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestCollector, type TestCollector } from '../helpers/collector.js';

const PRODUCER = fileURLToPath(new URL('./fixtures/producer.mjs', import.meta.url));

let collector: TestCollector;
beforeAll(async () => {
  collector = await startTestCollector();
});
afterAll(async () => {
  await collector?.close();
});

it('a process that tracks and simply ends delivers its events via beforeExit', async () => {
  const child = spawn(process.execPath, [PRODUCER, collector.url, collector.writeKey, '-', 'exit', '2500'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const started = Date.now();
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  expect(code, stderr).toBe(0);
  // Well under the 1 s flush interval plus exit timeout: the exit flush is immediate.
  expect(Date.now() - started).toBeLessThan(8000);
  const stored = (await collector.storedEvents()).filter((e) => e.userId === 'u-exit');
  expect(stored).toHaveLength(2500);
  expect(stderr).toBe('');
});
