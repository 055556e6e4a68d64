import { TransportError } from '@kimlik/core';
import { afterEach, describe, expect, test, vi } from 'vitest';
import { postBatch, sendOnExit } from './transport.js';

const answer = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  vi.fn(async (_url: string, _init?: RequestInit) => new Response(JSON.stringify(body), { status, headers }));

afterEach(() => vi.unstubAllGlobals());

describe('postBatch', () => {
  test('sends text/plain (no CORS preflight) and returns per-event rejections of a 200', async () => {
    const fetch = answer(200, {
      success: true,
      accepted: 1,
      rejected: [{ index: 1, messageId: 'b', code: 'X', reason: 'r' }],
    });
    vi.stubGlobal('fetch', fetch);
    const result = await postBatch('http://c/v1/batch', '{"batch":[]}');
    expect(result.rejected).toHaveLength(1);
    const init = fetch.mock.calls[0]?.[1] as RequestInit;
    expect((init.headers as Record<string, string>)['content-type']).toMatch(/^text\/plain/);
  });

  test('a 400 listing the refused events is a verdict, not an error (no poison pill)', async () => {
    const rejected = [{ index: 0, messageId: 'a', code: 'KIMLIK_EVENT_TOO_LARGE', reason: 'big' }];
    vi.stubGlobal('fetch', answer(400, { error: { code: 'KIMLIK_BATCH_ALL_REJECTED', message: 'm', rejected } }));
    expect((await postBatch('http://c/v1/batch', '{}')).rejected).toEqual(rejected);
  });

  test.each([
    [503, true],
    [500, true],
    [429, true],
    [408, true],
    [401, false],
    [413, false],
  ])('status %i is retryable: %s', async (status, retryable) => {
    vi.stubGlobal('fetch', answer(status, { error: { message: 'no' } }, { 'retry-after': '7' }));
    const error = await postBatch('http://c/v1/batch', '{}').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransportError);
    expect((error as TransportError).retryable).toBe(retryable);
    expect((error as TransportError).status).toBe(status);
    expect((error as TransportError).retryAfterMs).toBe(7000);
  });

  test('a network failure is retryable', async () => {
    vi.stubGlobal(
      'fetch',
      vi.fn(async () => {
        throw new TypeError('Failed to fetch');
      }),
    );
    const error = (await postBatch('http://c/v1/batch', '{}').catch((e: unknown) => e)) as TransportError;
    expect(error.retryable).toBe(true);
    expect(error.status).toBeUndefined();
  });
});

describe('sendOnExit', () => {
  test('cuts the batch to the keepalive budget keeping the newest (sent oldest first), write key in the body', () => {
    const beacons: string[] = [];
    vi.stubGlobal('navigator', {
      sendBeacon: (_url: string, blob: Blob) => {
        void blob.text().then((t) => beacons.push(t));
        return true;
      },
    });
    const jsons = Array.from({ length: 100 }, (_, i) => JSON.stringify({ n: i, pad: 'x'.repeat(1000) }));
    const n = sendOnExit('http://c/v1/batch', jsons, ',"writeKey":"wk"}', 10_000);
    expect(n).toBe(9);
    return new Promise<void>((resolve) =>
      setTimeout(() => {
        const body = JSON.parse(beacons[0] as string);
        expect(body.writeKey).toBe('wk');
        expect(body.batch.map((e: { n: number }) => e.n)).toEqual([91, 92, 93, 94, 95, 96, 97, 98, 99]);
        expect(new Blob([beacons[0] as string]).size).toBeLessThanOrEqual(10_000);
        resolve();
      }, 10),
    );
  });
});
