import type { FastifyInstance, preHandlerAsyncHookHandler } from 'fastify';
import { HttpError } from '../http/errors.js';
import type { Store } from '../store/store.js';

const MAX_LIMIT = 1000;

/** Parses `limit` (1..max, default) from a query string, with a clear 400 otherwise. */
export function parseLimit(raw: unknown, fallback: number, max = MAX_LIMIT): number {
  if (raw === undefined || raw === '') return fallback;
  const n = wholeNumber(raw);
  if (n === null || n < 1 || n > max) {
    throw new HttpError(
      'KIMLIK_QUERY_INVALID',
      `limit must be a whole number from 1 to ${max}; got ${JSON.stringify(raw)}`,
    );
  }
  return n;
}

/**
 * Decimal digits (a leading minus where `signed`) that make an exact number, else null: `0x10`,
 * `1e2` and ` 1` are not read as numbers, nor digits past 2^53 that a number would round.
 */
export function wholeNumber(raw: unknown, signed = false): number | null {
  if (typeof raw !== 'string' || !(signed ? /^-?\d{1,16}$/ : /^\d{1,16}$/).test(raw)) return null;
  const n = Number(raw);
  return Number.isSafeInteger(n) ? n : null;
}

export function eventRoutes(app: FastifyInstance, deps: { store: Store; admin: preHandlerAsyncHookHandler }): void {
  app.get('/v1/events', { preHandler: deps.admin }, async (request) => {
    const q = request.query as Record<string, string | undefined>;
    const limit = parseLimit(q.limit, 100);
    if (q.before !== undefined && wholeNumber(q.before) === null) {
      throw new HttpError('KIMLIK_QUERY_INVALID', 'before must be the nextCursor of a previous page');
    }
    return deps.store.listEvents({ limit, before: q.before });
  });
}
