import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import type { FastifyInstance } from 'fastify';

/** The browser SDK's script-tag build, from the sdk-web workspace (built by `npm run build`). */
const BUNDLE = fileURLToPath(new URL('../../../sdk-web/dist/kimlik.min.js', import.meta.url));

type Encoding = 'br' | 'gzip' | 'identity';

interface Bundle {
  etag: string;
  bodies: Record<Encoding, Buffer>;
}

/**
 * The encoding to answer with: brotli, then gzip, then none, as far as `Accept-Encoding` allows
 * (a coding with q=0 is refused; `*` stands for any other).
 */
export function chooseEncoding(header: string | undefined): Encoding {
  if (!header) return 'identity';
  const q = new Map<string, number>();
  for (const part of header.toLowerCase().split(',')) {
    const [name, ...params] = part.trim().split(';');
    if (!name) continue;
    const qParam = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    const value = qParam === undefined ? 1 : Number(qParam.slice(2));
    q.set(name.trim(), Number.isNaN(value) ? 0 : value);
  }
  const accepts = (coding: string) => (q.get(coding) ?? q.get('*') ?? 0) > 0;
  if (accepts('br')) return 'br';
  if (accepts('gzip') || accepts('x-gzip')) return 'gzip';
  return 'identity';
}

/** Whether `If-None-Match` names the bundle's ETag (weak comparison, lists and `*`, RFC 9110 §13.1.2). */
export function matchesEtag(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  const bare = (tag: string) => tag.trim().replace(/^W\//, '');
  return header.split(',').some((tag) => tag.trim() === '*' || bare(tag) === bare(etag));
}

/**
 * Serves the script-tag bundle at /kimlik.js, compressed (brotli or gzip, made once at the first
 * request: the bundle's size is the SDK's headline figure, and without a compressing proxy in
 * front the page would load the raw bytes). Short max-age with revalidation: sites pick up a new
 * SDK within minutes, and an unchanged bundle costs a 304. The ETag is weak: it names the
 * content, whichever encoding carries it.
 */
export function sdkBundleRoutes(app: FastifyInstance): void {
  let cached: Bundle | null = null;
  const load = (): Bundle => {
    if (cached) return cached;
    const body = readFileSync(BUNDLE);
    cached = {
      etag: `W/"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`,
      bodies: {
        identity: body,
        gzip: gzipSync(body, { level: 9 }),
        br: brotliCompressSync(body, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }),
      },
    };
    return cached;
  };
  app.get('/kimlik.js', async (request, reply) => {
    let bundle: Bundle;
    try {
      bundle = load();
    } catch {
      return reply.code(404).send({
        error: { code: 'KIMLIK_NOT_FOUND', message: 'The browser bundle is not built: run `npm run build`' },
      });
    }
    reply.header('Cache-Control', 'public, max-age=300, stale-while-revalidate=86400');
    reply.header('ETag', bundle.etag);
    reply.header('Vary', 'Accept-Encoding');
    reply.header('Access-Control-Allow-Origin', '*');
    if (matchesEtag(request.headers['if-none-match'], bundle.etag)) return reply.code(304).send();
    const encoding = chooseEncoding(request.headers['accept-encoding']);
    if (encoding !== 'identity') reply.header('Content-Encoding', encoding);
    return reply.type('application/javascript; charset=utf-8').send(bundle.bodies[encoding]);
  });
}
