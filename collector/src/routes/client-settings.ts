import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { basicUsername, queryWriteKey, type SourceRegistry } from '../http/auth.js';
import { HttpError } from '../http/errors.js';
import { PUBLIC_ORIGIN_VARY, publicOrigin } from '../http/public-origin.js';
import type { Source } from '../store/store.js';

export interface ClientSettingsDeps {
  sources: SourceRegistry;
}

/**
 * The source of a settings request's write key (401 when unknown), with the headers both answers
 * need: a cache may keep them for a while, per Origin, since the answer carries
 * Access-Control-Allow-Origin for the requesting origin (or none) and a shared cache must not hand
 * it to another site (this replaces the CORS hook's `Vary: Origin`).
 */
async function settingsSource(
  sources: SourceRegistry,
  reply: FastifyReply,
  writeKey: string | undefined,
  vary: string,
): Promise<Source> {
  if (writeKey === undefined) throw new HttpError('KIMLIK_AUTH_MISSING');
  const source = await sources.byWriteKeyFresh(writeKey);
  if (!source) throw new HttpError('KIMLIK_AUTH_INVALID');
  reply.header('Cache-Control', 'public, max-age=300');
  reply.header('Vary', `Origin, ${vary}`);
  return source;
}

/**
 * The configuration documents browser SDKs fetch before they send anything, answered so that a
 * site migrating from Segment or RudderStack changes one option to the collector's origin and
 * nothing goes to the vendor: no destinations, no device-mode integrations, no telemetry.
 */
export function clientSettingsRoutes(app: FastifyInstance, deps: ClientSettingsDeps): void {
  // Segment's analytics.js: `{cdnURL}/v1/projects/{writeKey}/settings`. The only destination is this
  // collector, and its telemetry to Segment is off (`metrics.sampleRate: 0`).
  app.get('/v1/projects/:writeKey/settings', async (request, reply) => {
    const { writeKey } = request.params as { writeKey: string };
    const source = await settingsSource(deps.sources, reply, writeKey, PUBLIC_ORIGIN_VARY);
    // The address the browser used, so events come back the same way.
    const { protocol, host } = publicOrigin(request);
    const apiHost = `${host}/v1`;
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

  // RudderStack's browser SDK v3: `{configUrl}/sourceConfig/?writeKey=…` with the key as Basic auth
  // too; without an answer it never loads. Its events go to its dataPlaneUrl, not to anything named
  // here. An empty `config` leaves its error and metrics reporting to RudderStack off.
  app.get('/sourceConfig', async (request: FastifyRequest, reply) => {
    const writeKey = basicUsername(request.headers.authorization) ?? queryWriteKey(request);
    const source = await settingsSource(deps.sources, reply, writeKey, 'Authorization');
    return {
      source: {
        id: String(source.id),
        name: source.name,
        workspaceId: 'kimlik',
        writeKey: source.writeKey,
        enabled: true,
        config: {},
        destinations: [],
      },
    };
  });
}
