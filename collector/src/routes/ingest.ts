import type { EventType } from '@kimlik/core';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { SourceRegistry } from '../http/auth.js';
import { HttpError } from '../http/errors.js';
import type { IngestResult, IngestService } from '../ingest/ingest-service.js';

/** Single-event endpoints, with the one-letter paths analytics.js posts to. */
const SINGLE: readonly [EventType, string][] = [
  ['track', 't'],
  ['identify', 'i'],
  ['page', 'p'],
  ['screen', 's'],
  ['group', 'g'],
  ['alias', 'a'],
];

export interface IngestRouteDeps {
  ingest: IngestService;
  sources: SourceRegistry;
}

/**
 * An erased person's events (suppressed) are acknowledged like the others and not named: the write
 * key is public, and a count would tell anyone holding it whether someone was erased. Admins see
 * them in kimlik_events_suppressed_total and the live debugger.
 */
function answer(reply: FastifyReply, result: IngestResult) {
  return reply.code(200).send({
    success: true,
    accepted: result.accepted,
    duplicates: result.duplicates,
    rejected: result.rejected,
  });
}

/** A POST without a body (none, or an empty one) leaves `body` undefined; say what is missing. */
async function requireBody(request: { body: unknown }): Promise<void> {
  if (request.body === undefined)
    throw new HttpError('KIMLIK_BODY_INVALID_JSON', 'The body is empty; send a JSON object');
}

export function ingestRoutes(app: FastifyInstance, deps: IngestRouteDeps): void {
  const { ingest, sources } = deps;
  const opts = { preValidation: requireBody };
  const batchHandler = async (request: { body: unknown }, reply: FastifyReply) => {
    const source = await sources.authenticateFresh(request as never, request.body);
    return answer(reply, await ingest.ingestBatch(request.body, source.id));
  };
  app.post('/v1/batch', opts, batchHandler);
  app.post('/v1/import', opts, batchHandler);
  app.post('/v1/b', opts, batchHandler);
  // RudderStack's browser SDK with useBeacon: sendBeacon cannot set headers, so the write key rides
  // in the query string; only here, where a client with no other way puts it.
  app.post('/beacon/v1/batch', opts, async (request, reply) => {
    const source = await sources.authenticateFresh(request, request.body, true);
    return answer(reply, await ingest.ingestBatch(request.body, source.id));
  });
  for (const [type, short] of SINGLE) {
    const handler = async (request: { body: unknown }, reply: FastifyReply) => {
      const source = await sources.authenticateFresh(request as never, request.body);
      return answer(reply, await ingest.ingestOne(request.body, source.id, type));
    };
    app.post(`/v1/${type}`, opts, handler);
    app.post(`/v1/${short}`, opts, handler);
  }
}
