import type { FastifyInstance } from 'fastify';
import type { SourceRegistry } from '../http/auth.js';
import { HttpError } from '../http/errors.js';

export interface SegmentSettingsDeps {
  sources: SourceRegistry;
}

/**
 * The settings document Segment's analytics.js fetches before it sends anything
 * (`{cdnURL}/v1/projects/{writeKey}/settings`). Served here, a site migrating from Segment changes
 * one option, `cdnURL`, to the collector's origin: the answer points analytics.js's only
 * destination at this collector, turns its telemetry to Segment off (`metrics.sampleRate: 0`) and
 * names no device-mode integrations, so it loads nothing from Segment's CDN either.
 */
export function segmentSettingsRoutes(app: FastifyInstance, deps: SegmentSettingsDeps): void {
  app.get('/v1/projects/:writeKey/settings', async (request, reply) => {
    const { writeKey } = request.params as { writeKey: string };
    const source = await deps.sources.byWriteKeyFresh(writeKey);
    if (!source) throw new HttpError('KIMLIK_AUTH_INVALID');
    // The address the browser used, so events come back the same way: behind a TLS-terminating
    // proxy that is its X-Forwarded-Proto/Host (an https page cannot post to http://). Trusting the
    // headers is safe here: they only change what this answer tells its own requester.
    const forwarded = (name: string) =>
      String(request.headers[name] ?? '')
        .split(',')[0]
        ?.trim() || undefined;
    const apiHost = `${forwarded('x-forwarded-host') ?? request.host}/v1`;
    const protocol = forwarded('x-forwarded-proto') === 'https' ? 'https' : request.protocol;
    reply.header('Cache-Control', 'public, max-age=300');
    // Origin too: the answer carries Access-Control-Allow-Origin for the requesting origin (or none),
    // and a shared cache must not hand it to another site. This replaces the CORS hook's `Vary: Origin`.
    reply.header('Vary', 'Origin, Host, X-Forwarded-Host, X-Forwarded-Proto');
    return {
      integrations: {
        'Segment.io': { apiKey: source.writeKey, apiHost, protocol },
      },
      plan: { track: { __default: { enabled: true, integrations: {} } } },
      edgeFunction: {},
      analyticsNextEnabled: true,
      middlewareSettings: {},
      enabledMiddleware: {},
      metrics: { sampleRate: 0 },
      legacyVideoPluginsEnabled: false,
      remotePlugins: [],
    };
  });
}
