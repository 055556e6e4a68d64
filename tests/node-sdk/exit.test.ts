import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestCollector, type TestCollector } from '../helpers/collector.js';
import { runNode } from '../helpers/node-child.js';

const PRODUCER = fileURLToPath(new URL('./fixtures/producer.mjs', import.meta.url));

let collector: TestCollector;
beforeAll(async () => {
  collector = await startTestCollector();
});
afterAll(async () => {
  await collector?.close();
});

it('a process that tracks and simply ends delivers its events via beforeExit', async () => {
  const { ms, code, stderr } = await runNode([PRODUCER, collector.url, collector.writeKey, '-', 'exit', '2500']);
  expect(code, stderr).toBe(0);
  // Well under the 1 s flush interval plus exit timeout: the exit flush is immediate.
  expect(ms).toBeLessThan(8000);
  const stored = (await collector.storedEvents()).filter((e) => e.userId === 'u-exit');
  expect(stored).toHaveLength(2500);
  expect(stderr).toBe('');
});
