import { createServer, type IncomingMessage, request, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { gunzipSync } from 'node:zlib';

/** What the fault server does with the next request to `/v1/batch`. */
export type FaultAction =
  | { kind: 'proxy' }
  | { kind: 'status'; status: number; retryAfterSeconds?: number }
  | { kind: 'hang' };

export interface RecordedRequest {
  at: number;
  status: number;
  messageIds: string[];
}

export interface FaultServer {
  url: string;
  port: number;
  /** Decides each request's fate; defaults to proxying to the target. */
  script: (req: { index: number; at: number }) => FaultAction;
  requests: RecordedRequest[];
  /** How many times each messageId reached the collector in a request it answered 200. */
  deliveredCounts(): Map<string, number>;
  /** Stops listening and cuts open connections: clients get "connection refused". */
  down(): Promise<void>;
  /** Listens again on the same port. */
  up(): Promise<void>;
  close(): Promise<void>;
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function messageIdsOf(body: Buffer, encoding: string | undefined): string[] {
  const text = (encoding === 'gzip' ? gunzipSync(body) : body).toString('utf8');
  const parsed = JSON.parse(text) as { batch?: { messageId?: string }[] };
  return (parsed.batch ?? []).map((e) => String(e.messageId));
}

/**
 * A scripted HTTP server in front of a real collector on 127.0.0.1: answers 503/429 with
 * Retry-After, hangs, or refuses connections (down/up on the same port) as the test scripts,
 * and proxies everything else. It records every batch so tests can check waits and duplicates.
 */
export async function startFaultServer(targetUrl: string): Promise<FaultServer> {
  const target = new URL(targetUrl);
  const sockets = new Set<Socket>();
  let index = 0;
  let server: Server;
  let port = 0;

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const body = await readBody(req);
    const at = Date.now();
    const isBatch = req.url === '/v1/batch';
    const action = isBatch ? fault.script({ index: index++, at }) : { kind: 'proxy' as const };
    const ids = isBatch ? messageIdsOf(body, req.headers['content-encoding'] as string | undefined) : [];
    if (action.kind === 'hang') return;
    if (action.kind === 'status') {
      fault.requests.push({ at, status: action.status, messageIds: ids });
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (action.retryAfterSeconds !== undefined) headers['retry-after'] = String(action.retryAfterSeconds);
      res.writeHead(action.status, headers);
      res.end(JSON.stringify({ error: { code: 'KIMLIK_FAULT', message: 'scripted fault' } }));
      return;
    }
    const upstream = request(
      {
        host: target.hostname,
        port: target.port,
        path: req.url,
        method: req.method,
        headers: { ...req.headers, host: target.host },
      },
      (up) => {
        if (isBatch) fault.requests.push({ at, status: up.statusCode ?? 0, messageIds: ids });
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    upstream.on('error', (err) => {
      res.writeHead(502, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { code: 'KIMLIK_FAULT_UPSTREAM', message: err.message } }));
    });
    upstream.end(body);
  };

  const listen = () =>
    new Promise<void>((resolve, reject) => {
      server = createServer((req, res) => {
        handle(req, res).catch((err: unknown) => {
          res.writeHead(500);
          res.end(String(err));
        });
      });
      server.on('connection', (s) => {
        sockets.add(s);
        s.on('close', () => sockets.delete(s));
      });
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        port = (server.address() as AddressInfo).port;
        resolve();
      });
    });

  const stop = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });

  await listen();
  const fault: FaultServer = {
    url: `http://127.0.0.1:${port}`,
    port,
    script: () => ({ kind: 'proxy' }),
    requests: [],
    deliveredCounts() {
      const counts = new Map<string, number>();
      for (const r of fault.requests) {
        if (r.status !== 200) continue;
        for (const id of r.messageIds) counts.set(id, (counts.get(id) ?? 0) + 1);
      }
      return counts;
    },
    down: stop,
    up: listen,
    close: stop,
  };
  return fault;
}

/** Polls `check` until it returns true or `timeoutMs` passes; for waiting on observable effects. */
export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
