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
    // The host and scheme the browser used to reach us (behind a proxy: its Host and, when
    // trustProxy is on, X-Forwarded-Proto), so events come back the same way.
    const apiHost = `${request.host}/v1`;
    reply.header('Cache-Control', 'public, max-age=300');
    return {
      integrations: {
        'Segment.io': { apiKey: source.writeKey, apiHost, protocol: request.protocol },
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
