import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';

/** The browser SDK's script-tag build, from the sdk-web workspace (built by `npm run build`). */
const BUNDLE = fileURLToPath(new URL('../../../sdk-web/dist/kimlik.min.js', import.meta.url));

/**
 * Serves the script-tag bundle at /kimlik.js. Short max-age with revalidation: sites pick up a
 * new SDK within minutes, and an unchanged bundle costs a 304.
 */
export function sdkBundleRoutes(app: FastifyInstance): void {
  let cached: { body: Buffer; etag: string } | null = null;
  const load = () => {
    if (cached) return cached;
    const body = readFileSync(BUNDLE);
    cached = { body, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` };
    return cached;
  };
  app.get('/kimlik.js', async (request, reply) => {
    let bundle: { body: Buffer; etag: string };
    try {
      bundle = load();
    } catch {
      return reply.code(404).send({
        error: { code: 'KIMLIK_NOT_FOUND', message: 'The browser bundle is not built: run `npm run build`' },
      });
    }
    reply.header('Cache-Control', 'public, max-age=300, stale-while-revalidate=86400');
    reply.header('ETag', bundle.etag);
    reply.header('Access-Control-Allow-Origin', '*');
    if (request.headers['if-none-match'] === bundle.etag) return reply.code(304).send();
    return reply.type('application/javascript; charset=utf-8').send(bundle.body);
  });
}
