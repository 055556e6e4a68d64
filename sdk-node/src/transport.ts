import { type ClientRequest, Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import {
  MAX_TIMER_MS,
  type OutgoingBatch,
  parseRetryAfter,
  type Rejection,
  type Transport,
  TransportError,
  type TransportResult,
} from '@kimlik/core';
import { LIBRARY } from './library.js';

const gzipAsync = promisify(gzip);

export interface HttpTransportOptions {
  endpoint: URL;
  writeKey: string;
  connections: number;
  requestTimeoutMs: number;
  gzipLevel: number;
}

/** 408, 429 and 5xx are worth retrying; any other 4xx will fail the same way again. */
const isRetryableStatus = (status: number) => status === 408 || status === 429 || status >= 500;

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    return { parseError: (err as Error).message };
  }
}

interface Answer {
  status: number;
  retryAfter: string | undefined;
  contentType: string | undefined;
  text: string;
}

/** An answer from something in front of the collector: retried like a 5xx, the events kept. */
function notTheCollectors({ status, contentType, text, retryAfter }: Answer): TransportError {
  return new TransportError(
    `answer is not the collector's: ${status} ${contentType ?? 'without content-type'} (${text.slice(0, 100)}); check endpoint and any proxy in between`,
    { status, retryable: true, retryAfterMs: parseRetryAfter(retryAfter) },
  );
}

/**
 * `POST /v1/batch` over `node:http(s)` with a keep-alive Agent: connections reused across
 * batches, gzip bodies compressed on the libuv threadpool so the event loop keeps tracking.
 *
 * Why not undici (issue #5 asked for its Pool; re-measured with undici 7.30.2 on Node 20): its
 * HTTP parser is llhttp compiled to WebAssembly, and V8 tiers the parser's main function up to
 * TurboFan on the first response the process reads (one request is enough, so fewer or larger
 * batches do not avoid it): ~29 MB of compiler memory at once, SIMD build or not. In the
 * 100 000-event burst that first response arrives with every event in memory: peak RSS
 * 150.7-155.9 MB in 7 same-session runs against 119.0-122.1 MB here, even with only
 * `undici/lib/dispatcher/pool.js` loaded (10.8 MB of RSS; the undici index 19 MB). Only V8
 * flags avoid the tier-up, and a library must not set the host's. node:http's parser is native.
 * Idle keep-alive sockets are unref'd by the Agent, so they never hold a process open.
 */
export class HttpTransport implements Transport {
  private readonly agent: HttpAgent;
  private readonly send1: typeof httpRequest;
  private readonly origin: string;
  private readonly url: URL;
  private readonly headers: Record<string, string>;
  private readonly gzipLevel: number;
  private readonly timeoutMs: number;
  private readonly inFlight = new Set<Promise<unknown>>();
  /** The requests behind `inFlight`, for `abort()`. */
  private readonly requests = new Set<ClientRequest>();
  /** Callers awaiting delivery now (`hold()`): while there are none, requests do not hold the process. */
  private holders = 0;

  constructor(options: HttpTransportOptions) {
    const https = options.endpoint.protocol === 'https:';
    const agentOptions = { keepAlive: true, maxSockets: options.connections, scheduling: 'lifo' as const };
    this.agent = https ? new HttpsAgent(agentOptions) : new HttpAgent(agentOptions);
    this.send1 = https ? httpsRequest : httpRequest;
    this.origin = options.endpoint.origin;
    this.url = new URL(`${options.endpoint.pathname.replace(/\/+$/, '')}/v1/batch`, options.endpoint);
    this.gzipLevel = options.gzipLevel;
    this.timeoutMs = options.requestTimeoutMs;
    this.headers = {
      'content-type': 'application/json',
      authorization: `Basic ${Buffer.from(`${options.writeKey}:`).toString('base64')}`,
      'user-agent': `${LIBRARY.name}/${LIBRARY.version}`,
      ...(options.gzipLevel > 0 ? { 'content-encoding': 'gzip' } : {}),
    };
  }

  async send(batch: OutgoingBatch): Promise<TransportResult> {
    const raw = batch.bytes;
    const body =
      this.gzipLevel > 0
        ? await gzipAsync(raw, { level: this.gzipLevel })
        : Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
    let answer: Answer;
    const posting = this.post(body);
    this.inFlight.add(posting);
    try {
      answer = await posting;
    } catch (err) {
      throw new TransportError(`cannot reach the collector at ${this.origin}: ${(err as Error).message}`, {
        retryable: true,
        cause: err,
      });
    } finally {
      this.inFlight.delete(posting);
    }
    const { status, text } = answer;
    const parsed = parseJson(text) as {
      success?: unknown;
      rejected?: Rejection[];
      error?: { code?: string; message?: string; rejected?: Rejection[] };
    } | null;
    if (status >= 200 && status < 300) {
      // Only the collector's answer (Segment's API answers the same) acknowledges: a proxy's HTML
      // page or a `{}` with 200 would have the events forgotten, and deleted from the spool.
      if (parsed?.success === true) return { rejected: Array.isArray(parsed.rejected) ? parsed.rejected : [] };
      throw notTheCollectors(answer);
    }
    const detail = parsed?.error?.rejected;
    if (status === 400 && Array.isArray(detail) && detail.length > 0) return { rejected: detail };
    // A 4xx refuses the events for good only when the collector said it ({error: {code}}): an
    // ingress's HTML 404 mid-deploy would have them dropped. A 413 from anyone means the body is
    // too big for the path, so it is still halved.
    if (!isRetryableStatus(status) && status !== 413 && typeof parsed?.error?.code !== 'string') {
      throw notTheCollectors(answer);
    }
    const reason = parsed?.error ? `${parsed.error.code}: ${parsed.error.message}` : text.slice(0, 200);
    throw new TransportError(`collector answered ${status} (${reason})`, {
      status,
      retryable: isRetryableStatus(status),
      retryAfterMs: parseRetryAfter(answer.retryAfter),
    });
  }

  private post(body: Buffer): Promise<Answer> {
    return new Promise<Answer>((resolve, reject) => {
      const req = this.send1(this.url, {
        method: 'POST',
        agent: this.agent,
        headers: { ...this.headers, 'content-length': String(body.length) },
      });
      // The whole exchange, not only silence: a collector (or proxy) trickling its answer a byte
      // at a time would otherwise hold the request, its retry and any shutdown forever.
      const deadline = setTimeout(
        () => req.destroy(new Error(`no complete answer within ${this.timeoutMs} ms`)),
        this.timeoutMs,
      );
      deadline.unref();
      this.requests.add(req);
      // A request nobody awaits (a flush that timed out, a fire-and-forget track) must not keep a
      // CLI or a serverless invocation alive until requestTimeoutMs; the exit flush bounds it.
      req.on('socket', (socket) => {
        if (this.holders === 0) socket.unref();
      });
      req.on('close', () => {
        clearTimeout(deadline);
        this.requests.delete(req);
      });
      req.on('error', reject);
      req.on('response', (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const header = res.headers['retry-after'];
          resolve({
            status: res.statusCode ?? 0,
            retryAfter: Array.isArray(header) ? header[0] : header,
            contentType: res.headers['content-type'],
            text: Buffer.concat(chunks).toString('utf8'),
          });
        });
      });
      req.end(body);
    });
  }

  /**
   * Someone awaits delivery (a flush without a timeout may wait for a request for as long as it
   * takes): requests hold the process until the returned release is called.
   */
  hold(): () => void {
    if (this.holders++ === 0) for (const req of this.requests) req.socket?.ref();
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      if (--this.holders === 0) for (const req of this.requests) req.socket?.unref();
    };
  }

  /** Waits for requests in flight, then closes the connections. */
  async close(): Promise<void> {
    await Promise.allSettled([...this.inFlight]);
    this.agent.destroy();
  }

  /**
   * Waits at most `ms` for requests in flight, then aborts those left; closes the connections.
   * Resolves true when none had to be aborted.
   */
  async closeWithin(ms: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const settled = await Promise.race([
      this.close().then(() => true),
      new Promise<false>((resolve) => {
        // Past the longest timer (Infinity: as long as it takes) no deadline at all.
        if (ms <= MAX_TIMER_MS) timer = setTimeout(() => resolve(false), Math.max(0, ms));
      }),
    ]);
    clearTimeout(timer);
    if (!settled) await this.destroy();
    return settled;
  }

  /** Aborts requests in flight (their events stay unacknowledged); the connections stay usable. */
  abort(): void {
    for (const req of this.requests) req.destroy(new Error('aborted: the SDK stopped waiting for it'));
  }

  /** Aborts requests in flight (their events stay unacknowledged) and closes the connections. */
  destroy(): Promise<void> {
    this.abort();
    this.agent.destroy();
    return Promise.resolve();
  }
}
