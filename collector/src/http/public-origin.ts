import type { FastifyRequest } from 'fastify';

/**
 * The scheme and host the browser used to reach the collector, for answers that tell it where to
 * come back (the demo page's snippet, Segment's settings). Behind a TLS-terminating proxy that is
 * X-Forwarded-Proto/Host (an https page cannot load or post to http://). Trusting the headers is
 * safe for such answers: they only change what an answer tells its own requester.
 */
export function publicOrigin(request: FastifyRequest): { protocol: 'http' | 'https'; host: string } {
  // A chain of proxies appends its own values: the first is the client's.
  const forwarded = (name: string) =>
    String(request.headers[name] ?? '')
      .split(',')[0]
      ?.trim() || undefined;
  return {
    protocol: forwarded('x-forwarded-proto') === 'https' ? 'https' : request.protocol,
    host: forwarded('x-forwarded-host') ?? request.host,
  };
}

/** Headers `publicOrigin` reads: a cache must key its answer on them. */
export const PUBLIC_ORIGIN_VARY = 'Host, X-Forwarded-Host, X-Forwarded-Proto';
