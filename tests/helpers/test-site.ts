import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { fileURLToPath } from 'node:url';

const BUNDLE = fileURLToPath(new URL('../../sdk-web/dist/kimlik.min.js', import.meta.url));

/** A fault the site's /v1 proxy answers with instead of forwarding, while it lasts. */
export interface Fault {
  status: number;
  /** Seconds, sent as Retry-After. */
  retryAfter?: number;
  /** The fault ends after this many milliseconds. */
  forMs: number;
}

export interface ProxiedRequest {
  at: number;
  status: number;
  events: number;
}

export interface TestSite {
  /** Origin of the site: pages, /kimlik.js and a /v1 proxy to the collector. */
  url: string;
  /**
   * Adds (or replaces) a page served at `path`, with `Cache-Control: no-store` unless `cacheable`
   * (Chromium keeps no no-store page in its back/forward cache).
   */
  page(path: string, html: string, cacheable?: boolean): void;
  fault(fault: Fault): void;
  /** While down, /v1 requests end in a network error (the connection is dropped unanswered). */
  setDown(down: boolean): void;
  /** Every /v1 POST the proxy saw, with what it answered. */
  requests: ProxiedRequest[];
  close(): Promise<void>;
}

const read = (req: IncomingMessage) =>
  new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });

/**
 * A website on 127.0.0.1 (port 0) for browser suites: serves test pages and the built bundle, and
 * forwards /v1/* to the collector, so the SDK's default endpoint (the script's origin) works. The
 * proxy can answer 503/429 for a while to exercise retries, or drop connections as a lost network.
 */
export async function startTestSite(collectorUrl: string): Promise<TestSite> {
  const pages = new Map<string, string>();
  const cacheable = new Set<string>();
  const requests: ProxiedRequest[] = [];
  let fault: (Fault & { until: number }) | null = null;
  let down = false;

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0] as string;
    if (path === '/kimlik.js') {
      res.writeHead(200, { 'content-type': 'application/javascript', 'cache-control': 'no-store' });
      res.end(readFileSync(BUNDLE));
      return;
    }
    if (path.startsWith('/v1/') && down) {
      requests.push({ at: Date.now(), status: 0, events: 0 });
      req.socket.destroy();
      return;
    }
    if (path.startsWith('/v1/')) {
      const body = await read(req);
      let events = 0;
      if (req.method === 'POST') {
        try {
          events = (JSON.parse(body.toString()) as { batch?: unknown[] }).batch?.length ?? 1;
        } catch (error) {
          events = -1;
          void error;
        }
      }
      if (req.method === 'POST' && fault && Date.now() < fault.until) {
        const headers: Record<string, string> = { 'content-type': 'application/json' };
        if (fault.retryAfter !== undefined) headers['retry-after'] = String(fault.retryAfter);
        requests.push({ at: Date.now(), status: fault.status, events });
        res.writeHead(fault.status, headers);
        res.end(JSON.stringify({ error: { code: 'KIMLIK_TEST_FAULT', message: 'injected by the test site' } }));
        return;
      }
      const upstream = await fetch(collectorUrl + req.url, {
        method: req.method,
        headers: { 'content-type': req.headers['content-type'] ?? 'text/plain' },
        body: req.method === 'POST' ? new Uint8Array(body) : undefined,
      });
      requests.push({ at: Date.now(), status: upstream.status, events });
      const headers: Record<string, string> = { 'content-type': upstream.headers.get('content-type') ?? 'text/plain' };
      const retryAfter = upstream.headers.get('retry-after');
      if (retryAfter) headers['retry-after'] = retryAfter;
      res.writeHead(upstream.status, headers);
      res.end(Buffer.from(await upstream.arrayBuffer()));
      return;
    }
    const html = pages.get(path);
    if (html === undefined) {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found');
      return;
    }
    res.writeHead(200, {
      'content-type': 'text/html; charset=utf-8',
      'cache-control': cacheable.has(path) ? 'max-age=0' : 'no-store',
    });
    res.end(html);
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(String(error));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    page: (path, html, keep) => {
      pages.set(path, html);
      if (keep) cacheable.add(path);
      else cacheable.delete(path);
    },
    fault: (f) => {
      fault = { ...f, until: Date.now() + f.forMs };
    },
    setDown: (d) => {
      down = d;
    },
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
