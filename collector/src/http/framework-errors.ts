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
 * Checks a request's parameters before any route runs. A query parameter given more than once
 * arrives as an array, which no route reads: refused by name rather than read as the first value
 * (or failing inside a route). U+0000 is refused in path values (profile and source ids), which no
 * id holds and PostgreSQL text cannot take (its query failed with a 500). Identifier values in the
 * query may hold it: stores look them up as they were stored.
 */
export async function readParameters(request: FastifyRequest): Promise<void> {
  const query = request.query as Record<string, unknown> | undefined;
  for (const [name, value] of Object.entries(query ?? {})) {
    if (Array.isArray(value)) throw new HttpError('KIMLIK_QUERY_INVALID', `${name} is given more than once`);
  }
  const params = request.params as Record<string, unknown> | undefined;
  for (const [name, value] of Object.entries(params ?? {})) {
    if (typeof value === 'string' && value.includes('\u0000'))
      throw new HttpError('KIMLIK_QUERY_INVALID', `${name} contains U+0000 (NUL), which no id holds`);
  }
}
