import type { FastifyInstance } from 'fastify';
import type { SourceRegistry } from '../http/auth.js';
import { HttpError } from '../http/errors.js';
import { PUBLIC_ORIGIN_VARY, publicOrigin } from '../http/public-origin.js';

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
    // The address the browser used, so events come back the same way.
    const { protocol, host } = publicOrigin(request);
    const apiHost = `${host}/v1`;
    reply.header('Cache-Control', 'public, max-age=300');
    // Origin too: the answer carries Access-Control-Allow-Origin for the requesting origin (or none),
    // and a shared cache must not hand it to another site. This replaces the CORS hook's `Vary: Origin`.
    reply.header('Vary', `Origin, ${PUBLIC_ORIGIN_VARY}`);
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
