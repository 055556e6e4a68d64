import Fastify, { type FastifyError, type FastifyInstance, LogController } from 'fastify';
import { requireAdmin, SourceRegistry } from './http/auth.js';
import { cutOffUnreadBody, parseJsonBody } from './http/body.js';
import { cors } from './http/cors.js';
import { errorBody, HTTP_ERRORS, HttpError } from './http/errors.js';
import { clientError, frameworkError, readParameters } from './http/framework-errors.js';
import { methodsForPath } from './http/method-not-allowed.js';
import { identityRules, recordIdentityRules } from './identity/identity-rules.js';
import { IngestService } from './ingest/ingest-service.js';
import { LiveFeed } from './ingest/live-feed.js';
import { ensureKeys, type Keys } from './keys.js';
import { Metrics } from './metrics.js';
import type { ResolvedCollectorOptions } from './options.js';
import { clientSettingsRoutes } from './routes/client-settings.js';
import { demoRoutes } from './routes/demo.js';
import { eventRoutes } from './routes/events.js';
import { healthRoutes } from './routes/health.js';
import { ingestRoutes } from './routes/ingest.js';
import { openApiRoutes } from './routes/openapi.js';
import { profileRoutes } from './routes/profiles.js';
import { sdkBundleRoutes } from './routes/sdk-bundle.js';
import { sourceRoutes } from './routes/sources.js';
import { statsRoutes } from './routes/stats.js';
import { streamRoutes } from './routes/stream.js';
import { uiRoutes } from './routes/ui.js';
import { openStore } from './store/open-store.js';
import type { Store } from './store/store.js';

/** Content types whose bodies are read as JSON (anything else is 415). */
const JSON_BODY_TYPES = [
  'application/json',
  'text/plain',
  'application/x-www-form-urlencoded',
  'application/octet-stream',
];

export interface Collector {
  app: FastifyInstance;
  /** What ingest accepts and rejects, as it happens (the live debugger's source). */
  feed: LiveFeed;
  /** Every registered route (method and path), for the OpenAPI consistency test. */
  routes: { method: string; url: string }[];
  store: Store;
  keys: Keys;
  metrics: Metrics;
  /** Stops accepting, drains in-flight requests, commits, closes the database. */
  close(): Promise<void>;
}

/** Opens the store, ensures keys, and builds the HTTP app (not yet listening). */
export async function createCollector(options: ResolvedCollectorOptions): Promise<Collector> {
  const metrics = new Metrics();
  // Identity failures are logged once the app (and its logger) exists.
  let log: FastifyInstance['log'] | undefined;
  let migrated: string[] = [];
  const store: Store = await openStore(options, {
    onCommit: (c) => {
      metrics.commitEvents.observe(c.events);
      metrics.commitSeconds.observe(c.ms / 1000);
    },
    onIdentityError: (message) => log?.error({ err: message }, 'identity batch failed; it stays queued and is retried'),
    // Before the app and its logger exist: one JSON line per wait, as the logger would write it.
    onWaiting: (message) => {
      if (options.logLevel !== 'silent')
        process.stderr.write(`${JSON.stringify({ level: 40, time: Date.now(), msg: message })}\n`);
    },
    onMigrated: (applied) => {
      migrated = applied;
    },
    onCheckpointError: (message) =>
      log?.warn({ err: message }, "SQLite checkpoint thread failed; the writer's own checkpoints take over"),
    onIdentityFailure: ({ eventId, messageId, error }) => {
      metrics.identityFailures.inc();
      log?.error(
        { err: error, eventId, messageId },
        'identity of an event failed alone: set aside (stored, not attributed to a profile)',
      );
    },
  });
  metrics.gauge('kimlik_ingest_queue_events', 'Events waiting for a commit.', () => store.pendingEvents);
  const keys = await ensureKeys(store, options);
  const sources = new SourceRegistry(store);
  await sources.load();
  const routes: { method: string; url: string }[] = [];
  const feed = new LiveFeed();
  const app = buildApp({ options, store, metrics, sources, adminKey: keys.adminKey, routes, feed });
  log = app.log;
  if (migrated.length > 0) log.info({ migrations: migrated }, 'database schema migrated');
  if (options.identity) {
    const before = await recordIdentityRules(store, options.identityConfig);
    if (before !== null) {
      app.log.warn(
        { before: JSON.parse(before), now: JSON.parse(identityRules(options.identityConfig)) },
        'identity rules (KIMLIK_IDENTITY_TRAITS, KIMLIK_BLOCKED_VALUES) differ from those this database was used with: events already resolved keep the earlier rules; collectors sharing a database must all use the same ones',
      );
    }
  }
  return {
    app,
    feed,
    routes,
    store,
    keys,
    metrics,
    async close() {
      // Requests in flight get the drain deadline; then what is still open goes (a connection that
      // never sent a request kept close() waiting forever).
      const force = setTimeout(() => app.server.closeAllConnections(), options.drainTimeoutMs);
      try {
        await app.close();
      } finally {
        clearTimeout(force);
      }
      await store.close();
    },
  };
}

interface AppDeps {
  options: ResolvedCollectorOptions;
  store: Store;
  metrics: Metrics;
  sources: SourceRegistry;
  adminKey: string;
  routes: { method: string; url: string }[];
  feed: LiveFeed;
}

function buildApp(deps: AppDeps): FastifyInstance {
  const { options, store, metrics, sources } = deps;
  const app = Fastify({
    logger: {
      level: options.logLevel,
      // Query strings can hold emails (profile lookups): log the path only, never payloads.
      serializers: {
        req: (req: { method: string; url: string; id: string }) => ({
          method: req.method,
          path: req.url.split('?')[0],
          id: req.id,
        }),
      },
    },
    bodyLimit: options.maxBodyBytes,
    // Fastify's own pair of lines per request is at info level and names no route: one debug
    // line per answer is written below instead (a line per request is too much at ingest rates).
    logController: new LogController({ disableRequestLogging: true }),
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    // `/v1/track/` is the same endpoint: clients that join a base URL and a path send both forms.
    routerOptions: { ignoreTrailingSlash: true },
    frameworkErrors: frameworkError,
    clientErrorHandler: clientError,
  });

  const parse = async (request: { raw: import('node:http').IncomingMessage }) =>
    parseJsonBody(request.raw, options.maxBodyBytes, options.requestTimeoutMs);
  // JSON under any of these types: beacons send text/plain (no CORS preflight), and clients that
  // post a gzipped Buffer through axios (RudderStack's Node SDK) send form-urlencoded or octet-stream.
  app.addContentTypeParser(JSON_BODY_TYPES, (request, _payload, done) => {
    parse(request).then(
      (body) => done(null, body),
      (err: Error) => done(err, undefined),
    );
  });
  // A POST with no Content-Type at all (Python's `requests.post(data=…)`, hand-rolled clients) is
  // read as JSON too; any other declared type is refused.
  app.addContentTypeParser('*', (request, _payload, done) => {
    if (request.headers['content-type'] !== undefined) {
      done(new HttpError('KIMLIK_UNSUPPORTED_MEDIA_TYPE'), undefined);
      return;
    }
    parse(request).then(
      (body) => done(null, body),
      (err: Error) => done(err, undefined),
    );
  });

  app.setErrorHandler((error: FastifyError | HttpError, request, reply) => {
    const http = toHttpError(error);
    if (http.status >= 500) request.log.error({ err: error }, 'request failed');
    // The rest of a body that did not arrive in time is not waited for.
    if (http.status === 408) reply.header('Connection', 'close');
    if (http.status === 429 || http.status === 503)
      reply.header('Retry-After', String(http.detail.retryAfterSeconds ?? 1));
    return reply.code(http.status).send(errorBody(http));
  });
  const methodsFor = methodsForPath(deps.routes);
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0] ?? '';
    const allowed = methodsFor(path);
    if (allowed.length === 0)
      return reply
        .code(404)
        .send({ error: { code: 'KIMLIK_NOT_FOUND', message: `No route ${request.method} ${path}` } });
    const allow = allowed.join(', ');
    return reply
      .code(405)
      .header('Allow', allow)
      .send(
        errorBody(new HttpError('KIMLIK_METHOD_NOT_ALLOWED', `${path} answers to ${allow}, not ${request.method}`)),
      );
  });
  // Responses still in flight when a drain starts close their keep-alive connection, so
  // close() finishes once they are answered instead of waiting for idle clients.
  let draining = false;
  app.addHook('preClose', async () => {
    draining = true;
  });
  app.addHook('onSend', async (_request, reply) => {
    if (draining) reply.header('Connection', 'close');
  });
  const logsRequests = options.logLevel === 'debug' || options.logLevel === 'trace';
  app.addHook('onResponse', async (request, reply) => {
    cutOffUnreadBody(request.raw, options.requestTimeoutMs);
    const route = request.routeOptions.url ?? 'unmatched';
    metrics.requestSeconds.observe(reply.elapsedTime / 1000, { route });
    metrics.responses.inc({ route, status: String(reply.statusCode) });
    // Checked first: the line's object would be built for every request at info level too.
    if (logsRequests) {
      request.log.debug(
        { method: request.method, route, statusCode: reply.statusCode, responseTimeMs: Math.round(reply.elapsedTime) },
        'request',
      );
    }
  });

  app.addHook('onRoute', (route) => {
    const methods = [route.method].flat();
    for (const method of methods) deps.routes.push({ method, url: route.url });
    // Only reads and admin calls take query or path parameters: ingest requests skip the check.
    if (methods.includes('GET') || route.url.includes(':'))
      route.preValidation = [route.preValidation ?? [], readParameters].flat();
  });
  cors(app, options.corsOrigins, deps.routes);
  const admin = requireAdmin(deps.adminKey);
  const ingest = new IngestService(
    store,
    metrics,
    {
      limits: options.limits,
      maxQueuedEvents: options.maxQueuedEvents,
      maxQueuedBytes: options.maxQueuedBytes,
      futureToleranceMs: options.futureToleranceMs,
      identity: options.identityConfig,
    },
    deps.feed,
  );
  ingestRoutes(app, { ingest, sources });
  eventRoutes(app, { store, admin });
  profileRoutes(app, { store, admin, identityEnabled: options.identity, identityConfig: options.identityConfig });
  healthRoutes(app, { store, metrics });
  openApiRoutes(app);
  sdkBundleRoutes(app);
  clientSettingsRoutes(app, { sources });
  sourceRoutes(app, { store, sources, admin, writeKeyConfigured: options.writeKey !== undefined });
  streamRoutes(app, { feed: deps.feed, admin, heartbeatMs: options.streamHeartbeatMs });
  statsRoutes(app, { store, metrics, admin });
  uiRoutes(app, { demo: options.demo });
  if (options.demo) demoRoutes(app, { sources });
  return app;
}

/** Maps fastify's own errors and anything unexpected onto the documented codes. */
function toHttpError(error: FastifyError | HttpError | Error): HttpError {
  if (error instanceof HttpError) return error;
  const code = (error as FastifyError).code;
  if (code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' || code === 'FST_ERR_CTP_INVALID_CONTENT_LENGTH') {
    return new HttpError('KIMLIK_UNSUPPORTED_MEDIA_TYPE', HTTP_ERRORS.KIMLIK_UNSUPPORTED_MEDIA_TYPE.message);
  }
  if (code === 'FST_ERR_CTP_BODY_TOO_LARGE') return new HttpError('KIMLIK_BODY_TOO_LARGE');
  if (code === 'FST_ERR_CTP_EMPTY_JSON_BODY') return new HttpError('KIMLIK_BODY_INVALID_JSON', 'The body is empty');
  if (error.name === 'StoreUnavailableError' || code === 'KIMLIK_STORE_UNAVAILABLE') {
    return new HttpError('KIMLIK_STORE_UNAVAILABLE', error.message, { retryAfterSeconds: 1 });
  }
  const status = (error as FastifyError).statusCode;
  if (status && status >= 400 && status < 500) return new HttpError('KIMLIK_QUERY_INVALID', error.message);
  return new HttpError('KIMLIK_INTERNAL');
}
