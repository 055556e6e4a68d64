import type { FastifyInstance } from 'fastify';
import { HttpError } from '../http/errors.js';
import type { Metrics } from '../metrics.js';
import type { Store } from '../store/store.js';

export function healthRoutes(app: FastifyInstance, deps: { store: Store; metrics: Metrics }): void {
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async () => {
    try {
      await deps.store.ping();
    } catch (err) {
      throw new HttpError('KIMLIK_STORE_UNAVAILABLE', `The database is not reachable: ${(err as Error).message}`);
    }
    return { status: 'ready', store: deps.store.kind };
  });
  app.get('/metrics', async (_request, reply) =>
    reply.type('text/plain; version=0.0.4; charset=utf-8').send(deps.metrics.render()),
  );
}
