import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/** Requests from a browser origin that KIMLIK_CORS_ORIGINS does not list (see `originRefused`). */
const refused = new WeakSet<FastifyRequest>();

/**
 * The request comes from a browser origin KIMLIK_CORS_ORIGINS does not list. Write-key
 * authentication refuses it (403): leaving out the CORS headers only hides the answer from the
 * page, and a text/plain beacon needs no preflight, so its events would still be stored.
 */
export function originRefused(request: FastifyRequest): boolean {
  return refused.has(request);
}

/**
 * Paths browsers call: the API, and RudderStack's browser SDK's source config and beacon paths
 * (its base URL is the collector's origin).
 */
const BROWSER_PATHS = ['/v1/', '/sourceConfig', '/beacon/v1/'];

/**
 * Browsers may send from any origin by default (the write key is public anyway). KIMLIK_CORS_ORIGINS
 * restricts that for the whole collector and a source can restrict its own origins; both are
 * enforced when the write key is authenticated, so admin APIs (which need the admin key) stay
 * usable from any origin. Preflights carry no credentials, so they are answered for any origin.
 */
export function cors(
  app: FastifyInstance,
  corsOrigins: readonly string[],
  routes: readonly { method: string; url: string }[],
): void {
  // The methods the API answers to (PATCH /v1/sources/{id} among them), read from the registered
  // routes at the first preflight, when all are registered: a fixed list fell behind the API.
  let methods: string | undefined;
  const allowMethods = () => {
    methods ??= [
      ...new Set(routes.filter((r) => r.url.startsWith('/v1/') && !r.url.includes('*')).map((r) => r.method)),
    ]
      .sort()
      .join(', ');
    return methods;
  };
  const anyOrigin = corsOrigins.includes('*');
  // The collector's own pages (the demo) are always allowed: same origin as the request's host.
  const allowed = (origin: string, host?: string) =>
    anyOrigin || corsOrigins.includes(origin) || (URL.canParse(origin) && new URL(origin).host === host);
  app.addHook('onRequest', async (request, reply) => {
    const origin = request.headers.origin;
    // The route matched, not the URL as sent: the router decodes it (/%76%31/track is /v1/track).
    const path = request.routeOptions.url;
    // No route matched: a page whose SDK points at a wrong path gets a readable 404 naming the
    // route it tried, rather than a CORS error.
    if (!origin || (path !== undefined && !BROWSER_PATHS.some((p) => path.startsWith(p)))) return;
    if (!allowed(origin, request.headers.host)) {
      refused.add(request);
      return;
    }
    reply.header('Access-Control-Allow-Origin', origin);
    reply.header('Vary', 'Origin');
    reply.header('Access-Control-Expose-Headers', 'Retry-After');
  });
  const preflight = async (request: FastifyRequest, reply: FastifyReply) => {
    const origin = request.headers.origin;
    if (origin && allowed(origin, request.headers.host)) reply.header('Access-Control-Allow-Origin', origin);
    reply.header('Vary', 'Origin, Access-Control-Request-Headers');
    reply.header('Access-Control-Allow-Methods', allowMethods());
    // The headers a client asks for are granted: SDKs add their own (RudderStack's browser SDK
    // sends AnonymousId), and a refused preflight would lose every event. Nothing is read from them.
    const asked = request.headers['access-control-request-headers'];
    reply.header('Access-Control-Allow-Headers', asked || 'Authorization, Content-Type, Content-Encoding');
    reply.header('Access-Control-Max-Age', '86400');
    return reply.code(204).send();
  };
  app.options('/v1/*', preflight);
  // RudderStack's SDK sends its write key as Basic auth on this GET: the header needs a preflight.
  app.options('/sourceConfig', preflight);
}
