import type { SourceView } from '@kimlik/core';
import type { FastifyInstance, preHandlerAsyncHookHandler } from 'fastify';
import type { SourceRegistry } from '../http/auth.js';
import { HttpError } from '../http/errors.js';
import { exactOrigin, notAnOrigin } from '../http/origins.js';
import { DEFAULT_SOURCE_ID, newKey } from '../keys.js';
import type { Source, Store } from '../store/store.js';

export interface SourceRouteDeps {
  store: Store;
  sources: SourceRegistry;
  admin: preHandlerAsyncHookHandler;
  /** The default source's write key is pinned by configuration (KIMLIK_WRITE_KEY): it cannot rotate here. */
  writeKeyConfigured: boolean;
}

const view = (s: Source): SourceView => ({
  id: s.id,
  name: s.name,
  writeKey: s.writeKey,
  allowedOrigins: s.allowedOrigins,
});

const invalid = (message: string) => new HttpError('KIMLIK_REQUEST_INVALID', message);

function checkName(name: unknown): string {
  if (typeof name !== 'string' || name.trim() === '' || name.length > 100) {
    throw invalid('name must be a non-empty string of at most 100 characters');
  }
  return name.trim();
}

/** Origins as browsers send them (`https://shop.example`, with a port if not the default): no path, no slash. */
function checkOrigins(origins: unknown): string[] {
  if (!Array.isArray(origins) || origins.length > 100) {
    throw invalid('allowedOrigins must be an array of at most 100 origins, e.g. ["https://shop.example"]');
  }
  return origins.map((o) => {
    const origin = exactOrigin(o);
    if (origin === null) throw invalid(notAnOrigin(o));
    return origin;
  });
}

const bodyOf = (body: unknown): Record<string, unknown> => {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw invalid('send a JSON object');
  return body as Record<string, unknown>;
};

/**
 * Sources (admin key): each website, app or server that sends events gets its own write key, and
 * may restrict the browser origins it accepts. A rotated key stops working at once on this
 * collector and within 10 s on the others sharing the database.
 */
export function sourceRoutes(app: FastifyInstance, deps: SourceRouteDeps): void {
  const { store, sources, admin } = deps;
  const find = async (id: string): Promise<Source> => {
    await sources.load();
    const source = /^\d+$/.test(id) ? sources.byId(Number(id)) : undefined;
    if (!source) throw new HttpError('KIMLIK_NOT_FOUND', `No source with id ${JSON.stringify(id)}`);
    return source;
  };
  const save = async (source: Omit<Source, 'id'> & { id?: number }): Promise<SourceView> => {
    const saved = await store.upsertSource(source);
    await sources.load();
    return view(saved);
  };

  app.get('/v1/sources', { preHandler: admin }, async (): Promise<{ sources: SourceView[] }> => {
    await sources.load();
    return { sources: sources.all().map(view) };
  });

  app.post('/v1/sources', { preHandler: admin }, async (request, reply) => {
    const body = bodyOf(request.body);
    const source = await save({
      name: checkName(body.name),
      writeKey: newKey('wk'),
      allowedOrigins: body.allowedOrigins === undefined ? [] : checkOrigins(body.allowedOrigins),
    });
    return reply.code(201).send(source);
  });

  app.patch('/v1/sources/:id', { preHandler: admin }, async (request): Promise<SourceView> => {
    const source = await find((request.params as { id: string }).id);
    const body = bodyOf(request.body);
    return save({
      ...source,
      ...(body.name !== undefined ? { name: checkName(body.name) } : {}),
      ...(body.allowedOrigins !== undefined ? { allowedOrigins: checkOrigins(body.allowedOrigins) } : {}),
    });
  });

  app.post('/v1/sources/:id/rotate-key', { preHandler: admin }, async (request): Promise<SourceView> => {
    const source = await find((request.params as { id: string }).id);
    if (source.id === DEFAULT_SOURCE_ID && deps.writeKeyConfigured) {
      throw invalid("the default source's write key is set by KIMLIK_WRITE_KEY: change it there and restart");
    }
    return save({ ...source, writeKey: newKey('wk') });
  });
}
