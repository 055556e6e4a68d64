import type { FastifyInstance } from 'fastify';
import { HttpError } from '../http/errors.js';
import type { Metrics } from '../metrics.js';
import type { Store } from '../store/store.js';

export function healthRoutes(app: FastifyInstance, deps: { store: Store; metrics: Metrics }): void {
  app.get('/healthz', async () => ({ status: 'ok' }));
  // Not ready while the store cannot commit, not only while it is unreachable: a locked SQLite
  // file still answers reads while every ingest request gets 503. `ping` knows the last commit's
  // outcome, so a probe writes nothing while commits succeed.
  app.get('/readyz', async () => {
    try {
      await deps.store.ping();
    } catch (err) {
      throw new HttpError('KIMLIK_STORE_UNAVAILABLE', `The database cannot commit: ${(err as Error).message}`, {
        retryAfterSeconds: 1,
      });
    }
    return { status: 'ready', store: deps.store.kind };
  });
  app.get('/metrics', async (_request, reply) =>
    reply.type('text/plain; version=0.0.4; charset=utf-8').send(deps.metrics.render()),
  );
}
