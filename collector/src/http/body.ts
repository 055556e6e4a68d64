import type { IncomingMessage } from 'node:http';
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import { HttpError } from './errors.js';

const gunzipAsync = promisify(gunzip);
const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Reads the raw body within `deadlineMs`: a body trickling in (a byte every few seconds) would
 * hold its connection, and a SIGTERM drain, without end. 408 KIMLIK_REQUEST_TIMEOUT past it.
 */
async function readWithin(stream: IncomingMessage, maxBytes: number, deadlineMs: number): Promise<Buffer> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new HttpError('KIMLIK_REQUEST_TIMEOUT', `The body did not arrive within ${deadlineMs} ms`)),
      deadlineMs,
    );
  });
  try {
    return await Promise.race([readRaw(stream, maxBytes), late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Called once a request is answered: a body still arriving is one no route read (a GET's, or one
 * refused before it was read: 415, 413). Node reads the rest itself to keep the connection, however
 * slowly it comes, so a body trickling in held its connection for ever; past `deadlineMs` the
 * connection is closed. A body that was read is complete by then: no timer on the ingest path.
 */
export function cutOffUnreadBody(req: IncomingMessage, deadlineMs: number): void {
  if (req.complete) return;
  const timer = setTimeout(() => {
    if (!req.complete) req.socket.destroy();
  }, deadlineMs);
  timer.unref();
  req.once('close', () => clearTimeout(timer));
}

/** Reads the raw body, refusing more than `maxBytes` without buffering the excess. */
async function readRaw(stream: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const declared = Number(stream.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) throw tooLarge(maxBytes);
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of stream) {
    total += (chunk as Buffer).length;
    if (total > maxBytes) {
      stream.resume();
      throw tooLarge(maxBytes);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks, total);
}

const tooLarge = (maxBytes: number) =>
  new HttpError(
    'KIMLIK_BODY_TOO_LARGE',
    `The body is larger than the limit of ${maxBytes} bytes (after decompression)`,
    {
      limitBytes: maxBytes,
    },
  );

/**
 * JSON from `application/json` or `text/plain` (sendBeacon sends text/plain to avoid a CORS
 * preflight), optionally gzip. The cap applies after decompression, so a gzip bomb stops at the
 * limit instead of filling memory.
 */
export async function parseJsonBody(stream: IncomingMessage, maxBytes: number, deadlineMs: number): Promise<unknown> {
  let encoding = String(stream.headers['content-encoding'] ?? 'identity')
    .trim()
    .toLowerCase();
  // RFC 9110 §8.4.1.3: a recipient should treat x-gzip as gzip (older clients still send it).
  if (encoding === 'x-gzip') encoding = 'gzip';
  if (encoding !== 'identity' && encoding !== 'gzip' && encoding !== '') {
    throw new HttpError('KIMLIK_UNSUPPORTED_ENCODING', `Content-Encoding "${encoding}" is not supported; use gzip`);
  }
  let body = await readWithin(stream, maxBytes, deadlineMs);
  if (encoding === 'gzip') {
    try {
      body = await gunzipAsync(body, { maxOutputLength: maxBytes });
    } catch (err) {
      if ((err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') throw tooLarge(maxBytes);
      throw new HttpError(
        'KIMLIK_BODY_INVALID_GZIP',
        `The body is marked gzip but does not decompress: ${(err as Error).message}`,
      );
    }
  }
  let text: string;
  try {
    text = utf8.decode(body);
  } catch {
    throw new HttpError('KIMLIK_BODY_INVALID_UTF8', 'The body is not valid UTF-8 (invalid byte sequence)');
  }
  // An empty body is no body, as when Content-Type is absent: clients set Content-Type on every call
  // out of habit, also on those that take no body (rotate-key, erase). Routes that need one refuse
  // `undefined` themselves (ingest: KIMLIK_BODY_INVALID_JSON, "The body is empty").
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new HttpError('KIMLIK_BODY_INVALID_JSON', `The body is not valid JSON: ${(err as Error).message}`);
  }
}
