import type { FastifyInstance } from 'fastify';

/**
 * Browsers may send from any origin by default (the write key is public anyway); a source can
 * restrict its origins, which is enforced when the request is authenticated. Preflights carry no
 * credentials, so they are answered for any origin.
 */
export function cors(app: FastifyInstance, corsOrigins: readonly string[]): void {
  const anyOrigin = corsOrigins.includes('*');
  const allowed = (origin: string) => anyOrigin || corsOrigins.includes(origin);
  app.addHook('onRequest', async (request, reply) => {
    const origin = request.headers.origin;
    if (!origin || !request.url.startsWith('/v1/')) return;
    if (!allowed(origin)) return;
    reply.header('Access-Control-Allow-Origin', origin);
    reply.header('Vary', 'Origin');
    reply.header('Access-Control-Expose-Headers', 'Retry-After');
  });
  app.options('/v1/*', async (request, reply) => {
    const origin = request.headers.origin;
    if (origin && allowed(origin)) {
      reply.header('Access-Control-Allow-Origin', origin);
      reply.header('Vary', 'Origin');
    }
    reply.header('Access-Control-Allow-Methods', 'GET, POST, DELETE, OPTIONS');
    reply.header('Access-Control-Allow-Headers', 'Authorization, Content-Type, Content-Encoding');
    reply.header('Access-Control-Max-Age', '86400');
    return reply.code(204).send();
  });
}
