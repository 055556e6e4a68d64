import { createServer } from 'node:net';
import { expect, it } from 'vitest';
import { runWithSdk } from '../helpers/node-child.js';

it('without onError, errors held back by the rate limit are still told, before the process ends', async () => {
  // A port with nothing listening: every request is refused.
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const endpoint = `http://127.0.0.1:${(probe.address() as { port: number }).port}`;
  await new Promise<void>((r) => probe.close(() => r()));
  const run = await runWithSdk(`
const client = new Kimlik({ writeKey: 'wk', endpoint: '${endpoint}', onWarn: () => {} });
client.track({ event: 'no user' });
for (let i = 0; i < 100; i++) client.track({ userId: 'u', event: 'lost', properties: { i } });
const result = await client.shutdown({ timeoutMs: 500 });
if (result.dropped !== 100) throw new Error('dropped ' + result.dropped);`);
  expect(run.code, run.stderr).toBe(0);
  const warnings = run.stderr.split('\n').filter((l) => l.includes('KimlikWarning'));
  // The invalid event, then the 100 lost at shutdown (held back: within 5 s of the first).
  expect(warnings[0]).toMatch(/userId or an anonymousId/);
  expect(
    warnings.some((w) => /100 events unacknowledged/.test(w)),
    run.stderr,
  ).toBe(true);
});
