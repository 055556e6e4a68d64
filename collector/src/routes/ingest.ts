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

function answer(reply: FastifyReply, result: IngestResult) {
  return reply.code(200).send({
    success: true,
    accepted: result.accepted,
    duplicates: result.duplicates,
    ...(result.suppressed ? { suppressed: result.suppressed } : {}),
    rejected: result.rejected,
  });
}

export function ingestRoutes(app: FastifyInstance, deps: IngestRouteDeps): void {
  const { ingest, sources } = deps;
  const batchHandler = async (request: { body: unknown }, reply: FastifyReply) => {
    const source = sources.authenticate(request as never, request.body);
    return answer(reply, await ingest.ingestBatch(request.body, source.id));
  };
  app.post('/v1/batch', batchHandler);
  app.post('/v1/import', batchHandler);
  app.post('/v1/b', batchHandler);
  for (const [type, short] of SINGLE) {
    const handler = async (request: { body: unknown }, reply: FastifyReply) => {
      const source = sources.authenticate(request as never, request.body);
      return answer(reply, await ingest.ingestOne(request.body, source.id, type));
    };
    app.post(`/v1/${type}`, handler);
    app.post(`/v1/${short}`, handler);
  }
  // A POST without a body never reaches a content parser; say what is missing.
  app.addHook('preValidation', async (request) => {
    if (request.method === 'POST' && request.url.startsWith('/v1/') && request.body === undefined) {
      throw new HttpError('KIMLIK_BODY_INVALID_JSON', 'The body is empty; send a JSON object');
    }
  });
}
