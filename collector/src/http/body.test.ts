import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestCollector, type TestCollector } from '../../../tests/helpers/collector.js';

let c: TestCollector;
beforeAll(async () => {
  c = await startTestCollector();
});
afterAll(async () => {
  await c.close();
});

it('reads Content-Encoding: x-gzip as gzip (RFC 9110 §8.4.1.3)', async () => {
  const event = { type: 'track', event: 'Zipped', userId: 'u1', messageId: `x-gzip-${Date.now()}` };
  for (const encoding of ['x-gzip', 'X-GZIP']) {
    const res = await fetch(`${c.url}/v1/track`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'content-encoding': encoding,
        authorization: `Basic ${Buffer.from(`${c.writeKey}:`).toString('base64')}`,
      },
      body: gzipSync(JSON.stringify(event)),
    });
    expect([encoding, res.status]).toEqual([encoding, 200]);
  }
  expect((await c.storedEvents()).filter((e) => e.messageId === event.messageId)).toHaveLength(1);
});
