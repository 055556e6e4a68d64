import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Kimlik } from '../../sdk-node/src/index.js';

// Only the collector's answer acknowledges a batch: a proxy's HTML page or an empty JSON object
// with status 200 is not one, and with a spool the events it "acknowledged" were deleted, lost.

const servers: Server[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  }
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const html = (res: ServerResponse) => {
  res.writeHead(200, { 'content-type': 'text/html' });
  res.end('<html><body>Welcome</body></html>');
};
const emptyJson = (res: ServerResponse) => {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end('{}');
};
const collector = (res: ServerResponse, body: string) => {
  const n = (JSON.parse(body) as { batch: unknown[] }).batch.length;
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ success: true, accepted: n, rejected: [] }));
};

/** A server on 127.0.0.1 answering the n-th batch (from 0) with `answer`; records the messageIds sent. */
async function serve(answer: (n: number, res: ServerResponse, body: string) => void) {
  const sent: string[][] = [];
  const server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      sent.push((JSON.parse(body) as { batch: { messageId: string }[] }).batch.map((e) => e.messageId));
      answer(sent.length - 1, res, body);
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { endpoint: `http://127.0.0.1:${(server.address() as { port: number }).port}`, sent };
}

const fast = { writeKey: 'wk_test_write_key', gzipLevel: 0, retryBaseMs: 20, retryMaxMs: 50 };

describe('what acknowledges a batch', () => {
  it('a 200 that is not the collector’s answer (an HTML page, {}) is retried and reported', async () => {
    const { endpoint, sent } = await serve((n, res, body) =>
      n === 0 ? html(res) : n === 1 ? emptyJson(res) : collector(res, body),
    );
    const warnings: string[] = [];
    const client = new Kimlik({ ...fast, endpoint, onWarn: (m) => warnings.push(m), onError: () => undefined });
    const receipt = client.track({ userId: 'u', event: 'x' });
    await expect(receipt).resolves.toMatchObject({ delivered: true });
    expect(sent).toEqual([[receipt.messageId], [receipt.messageId], [receipt.messageId]]);
    expect(warnings.join('\n')).toMatch(/answer is not the collector's: 200 text\/html/);
    expect(client.stats()).toMatchObject({ delivered: 1, retries: 2 });
    await client.shutdown();
  });

  it('a 4xx that is not the collector’s error (a proxy’s HTML 404) is retried, the events kept; the collector’s own 4xx refuses', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kimlik-ack-'));
    dirs.push(dir);
    const { endpoint, sent } = await serve((n, res, body) => {
      if (n === 0) {
        // An ingress mid-deploy: nginx's own page, not the collector's JSON.
        res.writeHead(404, { 'content-type': 'text/html' });
        res.end('<html><body>404 Not Found</body><center>nginx</center></html>');
      } else if (n === 1) {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end('{"message":"Route POST:/v1/batch not found"}');
      } else collector(res, body);
    });
    const warnings: string[] = [];
    const errors: string[] = [];
    const client = new Kimlik({
      ...fast,
      endpoint,
      spool: { dir },
      onWarn: (m) => warnings.push(m),
      onError: (e) => errors.push(e.message),
    });
    const receipt = client.track({ userId: 'u', event: 'x' });
    await expect(receipt).resolves.toMatchObject({ delivered: true });
    expect(sent).toEqual([[receipt.messageId], [receipt.messageId], [receipt.messageId]]);
    expect(errors).toEqual([]);
    // Reported once, as an outage is.
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/answer is not the collector's: 404 text\/html/);
    await client.shutdown();

    const refusing = await serve((_n, res) => {
      res.writeHead(401, { 'content-type': 'application/json' });
      res.end('{"error":{"code":"KIMLIK_AUTH_INVALID","message":"unknown write key"}}');
    });
    const refused = new Kimlik({
      ...fast,
      endpoint: refusing.endpoint,
      onWarn: () => undefined,
      onError: () => undefined,
    });
    await expect(refused.track({ userId: 'u', event: 'x' })).resolves.toMatchObject({
      delivered: false,
      error: { code: 'KIMLIK_DELIVERY_REJECTED' },
    });
    expect(refusing.sent).toHaveLength(1);
    await refused.shutdown();
  });

  it('with a spool, events a proxy answered 200 to stay on disk for the next process', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kimlik-ack-'));
    dirs.push(dir);
    const proxy = await serve((_n, res) => html(res));
    const first = new Kimlik({
      ...fast,
      endpoint: proxy.endpoint,
      spool: { dir },
      onWarn: () => undefined,
      onError: () => undefined,
    });
    const receipt = first.track({ userId: 'u', event: 'kept' });
    await expect(first.flush({ timeoutMs: 500 })).resolves.toMatchObject({ timedOut: true, pending: 1 });
    expect(proxy.sent.length).toBeGreaterThan(0);
    await expect(first.shutdown({ timeoutMs: 0 })).resolves.toMatchObject({ spooled: 1 });

    const real = await serve((_n, res, body) => collector(res, body));
    const next = new Kimlik({ ...fast, endpoint: real.endpoint, spool: { dir }, onWarn: () => undefined });
    await expect(next.flush({ timeoutMs: 5000 })).resolves.toEqual({ pending: 0, timedOut: false });
    expect(real.sent.flat()).toEqual([receipt.messageId]);
    await next.shutdown();
  });
});
