import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { errorBody, HttpError } from './errors.js';

/**
 * Requests refused before any route runs answer in the documented shape too, not Fastify's
 * or Node's: clients and log pipelines read one error format.
 */

/** Fastify's `frameworkErrors`: a path the router cannot decode (`/v1/%ZZ`) or match (a segment too long). */
export function frameworkError(error: FastifyError, _request: FastifyRequest, reply: FastifyReply): void {
  const http = new HttpError('KIMLIK_URL_INVALID', `The URL path is not valid (${error.message})`);
  void reply.code(http.status).send(errorBody(http));
}

/**
 * Fastify's `clientErrorHandler`: Node's HTTP parser refused the request (headers over 16 KB, a
 * malformed Content-Length, a timeout). There is no request to reply to, only the socket.
 */
export function clientError(this: FastifyInstance, error: NodeJS.ErrnoException, socket: Socket): void {
  // A reset connection has no one left to answer.
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const http = new HttpError(
    error.code === 'HPE_HEADER_OVERFLOW'
      ? 'KIMLIK_HEADERS_TOO_LARGE'
      : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? 'KIMLIK_REQUEST_TIMEOUT'
        : 'KIMLIK_REQUEST_MALFORMED',
  );
  this.log.debug({ err: error }, 'client error');
  const body = JSON.stringify(errorBody(http));
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${http.status} ${STATUS_CODES[http.status]}\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(error);
}

/**
 * A query parameter given more than once arrives as an array, which no route reads: refused by
 * name rather than read as the first value (or failing inside a route).
 */
export async function singleQueryValues(request: FastifyRequest): Promise<void> {
  const query = request.query as Record<string, unknown> | undefined;
  if (!query) return;
  for (const [name, value] of Object.entries(query)) {
    if (Array.isArray(value)) throw new HttpError('KIMLIK_QUERY_INVALID', `${name} is given more than once`);
  }
}
