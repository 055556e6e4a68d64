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

it('an empty JSON body is no body: admin calls that take none accept it, ingest and admin calls that need one refuse it', async () => {
  const call = async (method: string, path: string, auth: string) => {
    const res = await fetch(`${c.url}${path}`, {
      method,
      // Sent on every call out of habit, body or not.
      headers: { 'content-type': 'application/json', authorization: auth },
      body: '',
    });
    return { status: res.status, code: ((await res.json()) as { error?: { code: string } }).error?.code };
  };
  const admin = `Bearer ${c.adminKey}`;
  const created = await fetch(`${c.url}/v1/sources`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: admin },
    body: JSON.stringify({ name: 'rotated' }),
  });
  const { id } = (await created.json()) as { id: number };
  expect(await call('POST', `/v1/sources/${id}/rotate-key`, admin)).toEqual({ status: 200, code: undefined });
  expect(await call('DELETE', '/v1/profiles/no-such-profile', admin)).toMatchObject({ status: 404 });
  expect(await call('POST', '/v1/sources', admin)).toMatchObject({ status: 400 });
  const write = `Basic ${Buffer.from(`${c.writeKey}:`).toString('base64')}`;
  for (const path of ['/v1/track', '/v1/batch'])
    expect(await call('POST', path, write)).toEqual({ status: 400, code: 'KIMLIK_BODY_INVALID_JSON' });
});
