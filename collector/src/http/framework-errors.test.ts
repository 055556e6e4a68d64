import { once } from 'node:events';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCollector, type TestCollector } from '../../../tests/helpers/collector.js';

// Requests refused before any route runs (by Node's HTTP parser or the router) answer in the
// documented error shape too, as do repeated query parameters.

let c: TestCollector;
beforeAll(async () => {
  c = await startTestCollector();
});
afterAll(async () => {
  await c?.close();
});

/** Sends `raw` bytes as they are and reads the whole answer: status and JSON body. */
function rawRequest(raw: string): Promise<{ status: number; body: { error?: { code: string; message: string } } }> {
  const { hostname, port } = new URL(c.url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => socket.end(raw));
    let text = '';
    socket.on('data', (d) => {
      text += d;
    });
    socket.on('error', reject);
    socket.on('close', () => {
      const [head = '', body = ''] = text.split('\r\n\r\n');
      resolve({ status: Number(head.split(' ')[1]), body: body ? JSON.parse(body) : {} });
    });
  });
}

describe('errors raised before routing', () => {
  it('a path with bad percent-encoding: 400 KIMLIK_URL_INVALID', async () => {
    const r = await rawRequest(`GET /v1/%ZZ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    expect(r.status).toBe(400);
    expect(r.body.error?.code).toBe('KIMLIK_URL_INVALID');
  });

  it('headers over the size limit: 431 KIMLIK_HEADERS_TOO_LARGE', async () => {
    const r = await rawRequest(`GET /healthz?q=${'x'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`);
    expect(r.status).toBe(431);
    expect(r.body.error?.code).toBe('KIMLIK_HEADERS_TOO_LARGE');
  });

  it('a request that is not valid HTTP: 400 KIMLIK_REQUEST_MALFORMED', async () => {
    const r = await rawRequest(`POST /v1/batch HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n{}`);
    expect(r.status).toBe(400);
    expect(r.body.error?.code).toBe('KIMLIK_REQUEST_MALFORMED');
  });

  it('a query parameter given twice: 400 KIMLIK_QUERY_INVALID naming it (a lookup answered 500)', async () => {
    const auth = { authorization: `Bearer ${c.adminKey}` };
    for (const path of [
      '/v1/profiles?userId=u1&userId=u1',
      '/v1/profiles?trait.plan=a&trait.plan=b',
      '/v1/events?limit=1&limit=2',
    ]) {
      const res = await fetch(`${c.url}${path}`, { headers: auth });
      const body = (await res.json()) as { error: { code: string; message: string } };
      expect(res.status, path).toBe(400);
      expect(body.error.code).toBe('KIMLIK_QUERY_INVALID');
      expect(body.error.message).toMatch(/more than once/);
    }
  });
});

describe('a path asked with a method it does not answer to', () => {
  it('405 KIMLIK_METHOD_NOT_ALLOWED with an Allow header; an unknown path stays 404', async () => {
    const auth = { authorization: `Bearer ${c.adminKey}` };
    for (const [method, path, allow] of [
      ['GET', '/v1/batch', 'POST'],
      ['PUT', '/v1/track', 'POST'],
      ['POST', '/v1/events', 'GET, HEAD'],
      ['PUT', '/v1/profiles/p-123', 'DELETE, GET, HEAD'],
    ] as const) {
      const res = await fetch(`${c.url}${path}`, { method, headers: auth });
      const body = (await res.json()) as { error: { code: string; message: string } };
      expect([res.status, res.headers.get('allow'), body.error.code], `${method} ${path}`).toEqual([
        405,
        allow,
        'KIMLIK_METHOD_NOT_ALLOWED',
      ]);
      expect(body.error.message).toContain(allow);
    }
    const res = await fetch(`${c.url}/v1/nothing-here`, { method: 'POST' });
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('KIMLIK_NOT_FOUND');
  });
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('a request whose body trickles in', () => {
  it('is answered 408 KIMLIK_REQUEST_TIMEOUT once requestTimeoutMs passed, and closed (it held its connection without end)', async () => {
    const slow = await startTestCollector({ requestTimeoutMs: 400 });
    try {
      const { hostname, port } = new URL(slow.url);
      const socket = connect(Number(port), hostname);
      await once(socket, 'connect');
      const body = JSON.stringify({ type: 'track', event: 'Slow', userId: 'u-slow' });
      socket.write(
        `POST /v1/track HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n` +
          `Authorization: Basic ${Buffer.from(`${slow.writeKey}:`).toString('base64')}\r\n\r\n${body.slice(0, 5)}`,
      );
      let answer = '';
      socket.on('data', (d) => {
        answer += d;
      });
      await once(socket, 'close');
      expect(answer).toMatch(/^HTTP\/1\.1 408 /);
      expect(answer).toContain('KIMLIK_REQUEST_TIMEOUT');
    } finally {
      await slow.close();
    }
  });

  it('is cut off on routes that read no body too (a GET /healthz trickling a chunked body held its connection for ever)', async () => {
    const slow = await startTestCollector({ requestTimeoutMs: 400 });
    let trickle: NodeJS.Timeout | undefined;
    try {
      const { hostname, port } = new URL(slow.url);
      for (const head of [
        'GET /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n',
        // Refused before its body is read (415): the rest was then read without end.
        'POST /v1/track HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nTransfer-Encoding: chunked\r\n\r\n',
      ]) {
        const socket = connect(Number(port), hostname);
        await once(socket, 'connect');
        socket.on('error', () => undefined);
        socket.write(head);
        // One byte every 100 ms: the request never ends.
        trickle = setInterval(() => socket.writable && socket.write('1\r\nx\r\n', () => undefined), 100);
        // Not events.once: it rejects on the EPIPE the trickle meets once the server closes.
        const closed = new Promise<boolean>((resolve) => socket.once('close', () => resolve(true)));
        const cutOff = await Promise.race([closed, sleep(5000).then(() => false)]);
        clearInterval(trickle);
        socket.destroy();
        expect(cutOff, head).toBe(true);
      }
    } finally {
      clearInterval(trickle);
      await slow.close();
    }
  });
});
