import { existsSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCollector, type TestCollector } from '../../../tests/helpers/collector.js';
import { chooseEncoding, matchesEtag } from './sdk-bundle.js';

const file = new URL('../../../sdk-web/dist/kimlik.min.js', import.meta.url);
const built = existsSync(file);
if (!built && process.env.CI) throw new Error('CI needs the built bundle: npm install runs `npm run build`');

/** A raw GET (fetch would decompress and hide the encoding). */
function get(url: string, headers: Record<string, string>) {
  return new Promise<{ status: number; headers: Record<string, unknown>; body: Buffer }>((resolve, reject) => {
    request(url, { headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    })
      .on('error', reject)
      .end();
  });
}

describe('choosing the encoding and matching ETags', () => {
  it('prefers brotli, then gzip, honouring q=0 and *', () => {
    expect(chooseEncoding(undefined)).toBe('identity');
    expect(chooseEncoding('gzip, deflate, br')).toBe('br');
    expect(chooseEncoding('gzip, br;q=0')).toBe('gzip');
    expect(chooseEncoding('x-gzip')).toBe('gzip');
    expect(chooseEncoding('*')).toBe('br');
    expect(chooseEncoding('*;q=0, identity')).toBe('identity');
    expect(chooseEncoding('deflate')).toBe('identity');
  });

  it('matches weak, strong, listed and * validators', () => {
    const etag = 'W/"abc"';
    for (const header of ['W/"abc"', '"abc"', '"x", W/"abc"', '*'])
      expect(matchesEtag(header, etag), header).toBe(true);
    for (const header of [undefined, '"abd"', 'W/"x"']) expect(matchesEtag(header, etag), header).toBe(false);
  });
});

describe.skipIf(!built)('GET /kimlik.js is served compressed (needs `npm run build`)', () => {
  let c: TestCollector;
  beforeAll(async () => {
    c = await startTestCollector();
  });
  afterAll(async () => {
    await c?.close();
  });

  it('answers brotli or gzip as the browser accepts, the same bytes as the built bundle', async () => {
    const raw = readFileSync(file);
    const br = await get(`${c.url}/kimlik.js`, { 'accept-encoding': 'gzip, deflate, br' });
    expect(br.headers['content-encoding']).toBe('br');
    expect(br.headers.vary).toMatch(/Accept-Encoding/);
    expect(br.body.length).toBeLessThan(raw.length / 2);
    expect(brotliDecompressSync(br.body).equals(raw)).toBe(true);
    const gz = await get(`${c.url}/kimlik.js`, { 'accept-encoding': 'gzip' });
    expect(gz.headers['content-encoding']).toBe('gzip');
    expect(gunzipSync(gz.body).equals(raw)).toBe(true);
    const plain = await get(`${c.url}/kimlik.js`, {});
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.body.equals(raw)).toBe(true);
  });

  it('revalidates with the ETag in any form a cache sends it', async () => {
    const first = await get(`${c.url}/kimlik.js`, { 'accept-encoding': 'br' });
    const etag = first.headers.etag as string;
    const bare = etag.replace(/^W\//, '');
    for (const header of [etag, bare, `"other", ${etag}`]) {
      expect((await get(`${c.url}/kimlik.js`, { 'if-none-match': header })).status, header).toBe(304);
    }
  });
});
