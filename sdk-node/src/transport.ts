import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import {
  type OutgoingBatch,
  parseRetryAfter,
  type Rejection,
  type Transport,
  TransportError,
  type TransportResult,
} from '@kimlik/core';
import { Pool } from 'undici';
import { LIBRARY } from './library.js';

const gzipAsync = promisify(gzip);

export interface UndiciTransportOptions {
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

/**
 * `POST /v1/batch` over an undici Pool: keep-alive connections reused across batches, gzip
 * bodies compressed on the libuv threadpool so the event loop keeps tracking meanwhile.
 */
export class UndiciTransport implements Transport {
  private readonly pool: Pool;
  private readonly origin: string;
  private readonly path: string;
  private readonly headers: Record<string, string>;
  private readonly gzipLevel: number;
  private readonly timeoutMs: number;

  constructor(options: UndiciTransportOptions) {
    this.pool = new Pool(options.endpoint.origin, {
      connections: options.connections,
      pipelining: 1,
      keepAliveTimeout: 30_000,
      connectTimeout: Math.min(options.requestTimeoutMs, 10_000),
    });
    this.origin = options.endpoint.origin;
    this.path = `${options.endpoint.pathname.replace(/\/+$/, '')}/v1/batch`;
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
    let status: number;
    let text: string;
    let retryAfter: string | undefined;
    try {
      const res = await this.pool.request({
        path: this.path,
        method: 'POST',
        headers: this.headers,
        body,
        headersTimeout: this.timeoutMs,
        bodyTimeout: this.timeoutMs,
      });
      status = res.statusCode;
      const header = res.headers['retry-after'];
      retryAfter = Array.isArray(header) ? header[0] : header;
      text = await res.body.text();
    } catch (err) {
      throw new TransportError(`cannot reach the collector at ${this.origin}: ${(err as Error).message}`, {
        retryable: true,
        cause: err,
      });
    }
    const answer = parseJson(text) as {
      rejected?: Rejection[];
      error?: { code?: string; message?: string; rejected?: Rejection[] };
    };
    if (status >= 200 && status < 300) return { rejected: Array.isArray(answer.rejected) ? answer.rejected : [] };
    const detail = answer.error?.rejected;
    if (status === 400 && Array.isArray(detail) && detail.length > 0) return { rejected: detail };
    const reason = answer.error ? `${answer.error.code}: ${answer.error.message}` : text.slice(0, 200);
    throw new TransportError(`collector answered ${status} (${reason})`, {
      status,
      retryable: isRetryableStatus(status),
      retryAfterMs: parseRetryAfter(retryAfter),
    });
  }

  /** Waits for requests in flight, then closes the connections. */
  close(): Promise<void> {
    return this.pool.close();
  }

  /** Aborts requests in flight (their events stay unacknowledged) and closes the connections. */
  destroy(): Promise<void> {
    return this.pool.destroy();
  }
}
