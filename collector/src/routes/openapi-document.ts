import { EVENT_TYPES } from '@kimlik/core';
import { ref, SCHEMAS } from './openapi-schemas.js';

/**
 * The OpenAPI document served at /openapi.json. Tests compare its paths with the registered
 * routes, its error codes with HTTP_ERRORS, and every answer a real collector gives with the
 * schema documented for its operation and status, so it stays true.
 */
const json = (schema: object) => ({ 'application/json': { schema } });
const jsonAnswer = (description: string, schema: object) => ({ description, content: json(schema) });
const errorResponse = (description: string) => jsonAnswer(description, ref('Error'));

/** 429 and 503 say when to come back: the header and `error.retryAfterSeconds` carry the same seconds. */
const retryLater = (description: string) => ({
  ...errorResponse(description),
  headers: {
    'Retry-After': {
      required: true,
      description: 'Seconds to wait before retrying.',
      schema: { type: 'integer', minimum: 1 },
    },
  },
});
const storeUnavailable = retryLater('The database cannot be read or cannot commit; retry after Retry-After.');

/**
 * Answers of every operation whose body is read (POST, PATCH, DELETE): bodies are parsed before
 * any route runs, so these come before authentication too.
 */
const bodyResponses = {
  408: errorResponse('The body did not arrive within the request timeout (KIMLIK_REQUEST_TIMEOUT_MS).'),
  413: errorResponse('Body larger than the limit (after decompression).'),
  415: errorResponse('Unsupported Content-Type or Content-Encoding.'),
};
const BODY_INVALID = 'a body that is not valid JSON, UTF-8 or gzip';
/** Every GET checks its parameters before it runs, whoever asks. */
const PARAMETERS_INVALID = 'a query parameter given twice, or a path value holding U+0000';

const ingestResponses = {
  200: jsonAnswer(
    'Committed. Invalid events are listed in `rejected` by index; the rest are stored.',
    ref('BatchResponse'),
  ),
  400: jsonAnswer(
    `Not a batch, every event invalid (then \`rejected\` lists each, also inside \`error\`, as in a partial success), or ${BODY_INVALID}.`,
    ref('IngestError'),
  ),
  401: errorResponse('Missing or unknown write key.'),
  403: errorResponse('Origin not allowed for this source.'),
  ...bodyResponses,
  429: retryLater('Ingest queue full; retry after Retry-After.'),
  503: retryLater('Database cannot commit; retry after Retry-After.'),
};

/** The same JSON under another type: the server reads the body as JSON whatever these say. */
const jsonText = (schema: string, why: string) => ({
  schema: { type: 'string', contentMediaType: 'application/json', description: `JSON text of ${schema} (${why})` },
});

const ingestOp = (summary: string, schema: string) => ({
  summary,
  security: [{ writeKeyBasic: [] }, {}],
  parameters: [
    {
      name: 'Content-Encoding',
      in: 'header',
      schema: { type: 'string', enum: ['identity', 'gzip', 'x-gzip'] },
      description: 'gzip (x-gzip is read as gzip); the size limit applies after decompression.',
    },
  ],
  requestBody: {
    required: true,
    description: 'A body without Content-Type is read as JSON too; any other type answers 415.',
    content: {
      'application/json': { schema: ref(schema) },
      'text/plain': jsonText(schema, 'sendBeacon, which avoids a CORS preflight'),
      'application/x-www-form-urlencoded': jsonText(schema, "axios posting a Buffer, e.g. RudderStack's Node SDK"),
      'application/octet-stream': jsonText(schema, 'a raw or gzipped Buffer'),
    },
  },
  responses: ingestResponses,
});

/** An admin operation: the admin key, 401 without it, 503 while the database is down. */
const adminOp = (
  summary: string,
  responses: Record<number, object>,
  extra: { parameters?: object[]; requestBody?: object; description?: string } = {},
) => ({
  summary,
  ...(extra.description ? { description: extra.description } : {}),
  security: [{ adminBearer: [] }],
  ...(extra.parameters ? { parameters: extra.parameters } : {}),
  ...(extra.requestBody ? { requestBody: extra.requestBody } : {}),
  responses: { ...responses, 401: errorResponse('Missing or wrong admin key.'), 503: storeUnavailable },
});

/** A JSON request body; the types ingest reads as JSON are read here too, as is a body without Content-Type. */
const jsonBody = (schema: object, required = true) => ({
  required,
  description: 'text/plain, application/x-www-form-urlencoded and application/octet-stream are read as JSON too.',
  content: json(schema),
});

const idParameter = (name = 'id') => ({ name, in: 'path', required: true, schema: { type: 'string' } });

/** A profile operation: 404 for an unknown id, 409 while identity resolution is off. */
const profileResponses = (ok: object, invalid: string, notFound = 'No such profile (or an erased one).') => ({
  200: ok,
  400: errorResponse(`${invalid[0]?.toUpperCase()}${invalid.slice(1)}.`),
  404: errorResponse(notFound),
  409: errorResponse('Identity resolution is disabled (KIMLIK_IDENTITY=false): there are no profiles.'),
});

/** An admin operation on one source (`{id}` in the path) answering the source. */
const sourceOp = (summary: string, invalid: string, requestBody?: object) =>
  adminOp(
    summary,
    {
      200: jsonAnswer('The source.', ref('Source')),
      400: errorResponse(`${invalid}, or ${BODY_INVALID}.`),
      404: errorResponse('No such source.'),
      ...bodyResponses,
    },
    { parameters: [idParameter()], ...(requestBody ? { requestBody } : {}) },
  );

const sourceChange = {
  type: 'object',
  additionalProperties: false,
  properties: {
    name: { type: 'string', minLength: 1, maxLength: 100 },
    allowedOrigins: {
      type: 'array',
      maxItems: 100,
      items: { type: 'string', description: 'An origin as browsers send it: https://shop.example' },
      description: 'Browser origins allowed to send; empty means any.',
    },
  },
};

/** A public GET (no key) answering one representation; 400 only for malformed parameters. */
const publicGet = (summary: string, responses: Record<number, object>, parameters?: object[]) => ({
  summary,
  ...(parameters ? { parameters } : {}),
  responses: { ...responses, 400: errorResponse(`Malformed request: ${PARAMETERS_INVALID}.`) },
});
const text = (mediaType: string, description: string) => ({
  description,
  content: { [mediaType]: { schema: { type: 'string' } } },
});
const notModified = { description: 'Unchanged (If-None-Match named the ETag).' };

const SHORT: Record<string, string> = { track: 't', identify: 'i', page: 'p', screen: 's', group: 'g', alias: 'a' };

const paths: Record<string, unknown> = {
  '/v1/batch': { post: ingestOp('Send up to 2 500 events (Segment batch shape).', 'BatchRequest') },
  '/v1/import': { post: { ...ingestOp('Alias of /v1/batch (Segment import).', 'BatchRequest') } },
  '/v1/b': { post: { ...ingestOp('Alias of /v1/batch (analytics.js).', 'BatchRequest') } },
};
const beaconBatch = ingestOp(
  "/v1/batch for RudderStack's browser SDK with useBeacon (sendBeacon cannot set headers): the write key may also be the writeKey query parameter.",
  'BatchRequest',
);
paths['/beacon/v1/batch'] = {
  post: {
    ...beaconBatch,
    parameters: [...beaconBatch.parameters, { name: 'writeKey', in: 'query', schema: { type: 'string' } }],
  },
};
for (const type of EVENT_TYPES) {
  paths[`/v1/${type}`] = { post: ingestOp(`Send one ${type} event.`, 'Event') };
  paths[`/v1/${SHORT[type]}`] = { post: ingestOp(`Alias of /v1/${type} (analytics.js).`, 'Event') };
}
Object.assign(paths, {
  '/v1/events': {
    get: adminOp(
      'Stored events, newest first (admin).',
      {
        200: jsonAnswer('A page of events.', ref('EventPage')),
        400: errorResponse(`Invalid limit or before, or ${PARAMETERS_INVALID}.`),
      },
      {
        parameters: [
          { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 1000, default: 100 } },
          { name: 'before', in: 'query', schema: { type: 'string' }, description: 'nextCursor of the previous page' },
        ],
      },
    ),
  },
  '/v1/profiles': {
    get: adminOp(
      'Look a profile up by one identifier, or list profiles by a trait (admin).',
      profileResponses(
        jsonAnswer('A profile (lookup) or a page of profiles (trait listing).', {
          oneOf: [ref('Profile'), ref('ProfileList')],
        }),
        `no criterion or more than one, an invalid limit or cursor, or ${PARAMETERS_INVALID}`,
        'No profile holds this identifier.',
      ),
      {
        parameters: [
          { name: 'userId', in: 'query', schema: { type: 'string' } },
          { name: 'anonymousId', in: 'query', schema: { type: 'string' } },
          { name: 'email', in: 'query', schema: { type: 'string' } },
          { name: 'phone', in: 'query', schema: { type: 'string' } },
          {
            name: 'trait.<name>',
            in: 'query',
            schema: { type: 'string' },
            description: 'list profiles whose trait equals the value',
          },
          { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 500, default: 50 } },
          { name: 'cursor', in: 'query', schema: { type: 'string' } },
        ],
      },
    ),
  },
  '/v1/profiles/{id}': {
    get: adminOp(
      'A profile; a merged-away id answers with the survivor and `mergedFrom`.',
      profileResponses(jsonAnswer('The profile.', ref('Profile')), PARAMETERS_INVALID),
      { parameters: [idParameter()] },
    ),
    delete: adminOp(
      'GDPR erasure: events, traits, identifiers, history; identifiers suppressed (hashed).',
      {
        ...profileResponses(jsonAnswer('Erased.', ref('Erasure')), `${PARAMETERS_INVALID}, or ${BODY_INVALID}`),
        ...bodyResponses,
      },
      { parameters: [idParameter()] },
    ),
  },
  '/v1/profiles/{id}/events': {
    get: adminOp(
      'The stitched timeline across all identifiers, newest first.',
      profileResponses(
        jsonAnswer('A page of the timeline.', ref('ProfileEvents')),
        `invalid limit or before, or ${PARAMETERS_INVALID}`,
      ),
      {
        parameters: [
          idParameter(),
          { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 1000, default: 100 } },
          { name: 'before', in: 'query', schema: { type: 'string' } },
        ],
      },
    ),
  },
  '/v1/profiles/{id}/history': {
    get: adminOp(
      'Trait changes, merges, refused links, device reassignments and unmerges.',
      profileResponses(jsonAnswer('The history.', ref('ProfileHistory')), PARAMETERS_INVALID),
      { parameters: [idParameter()] },
    ),
  },
  '/v1/profiles/{id}/export': {
    get: adminOp(
      'Everything held about the person as one JSON download (GDPR access).',
      profileResponses(
        jsonAnswer('The export (Content-Disposition: attachment), or what is left after erasure.', {
          oneOf: [ref('ProfileExport'), ref('ErasedExport')],
        }),
        PARAMETERS_INVALID,
        'No such profile.',
      ),
      { parameters: [idParameter()] },
    ),
  },
  '/v1/profiles/{id}/unmerge': {
    post: adminOp(
      'Detach an identifier from a profile; the link is ignored from then on.',
      {
        ...profileResponses(
          jsonAnswer('Detached.', ref('Unmerge')),
          `not {type, value}, ${PARAMETERS_INVALID}, or ${BODY_INVALID}`,
          'No such profile, or the identifier is not in it.',
        ),
        409: errorResponse(
          "The identifier is the profile's only one: nothing to detach it from; or identity resolution is disabled (KIMLIK_IDENTITY=false).",
        ),
        ...bodyResponses,
      },
      {
        parameters: [idParameter()],
        requestBody: jsonBody({
          type: 'object',
          required: ['type', 'value'],
          properties: {
            type: { type: 'string', enum: ['userId', 'anonymousId', 'email', 'phone'] },
            value: { type: 'string' },
          },
        }),
      },
    ),
  },
  '/v1/stream/events': {
    get: {
      ...adminOp(
        'Live feed of accepted and rejected events as server-sent events (admin; the live debugger).',
        {
          200: text('text/event-stream', 'An endless event stream.'),
          400: errorResponse(`Malformed request: ${PARAMETERS_INVALID}.`),
        },
        {
          description:
            'text/event-stream. `event: items` carries `{items, dropped}` about ten times a second: items are ' +
            '`{kind: "event", sourceId, outcome: "stored"|"duplicate"|"suppressed", event}` or `{kind: "rejected", ' +
            'sourceId, receivedAt, index, messageId, code, reason}`; `dropped` counts items a slow reader missed. ' +
            '`event: hello` opens it with `{flushIntervalMs, heartbeatMs}`, and a comment line comes every heartbeatMs ' +
            '(nothing heard for two of them: the connection is dead). `event: bye` when the collector shuts down. ' +
            'Read it with fetch() and the Authorization header.',
        },
      ),
    },
  },
  '/v1/stats': {
    get: adminOp(
      'Events per minute, top events, counts of profiles, merges and rejects (admin; the overview).',
      {
        200: jsonAnswer('The overview. Rejects are counted since the process started.', ref('Stats')),
        400: errorResponse(`range is neither hour nor day, or ${PARAMETERS_INVALID}.`),
      },
      {
        parameters: [
          { name: 'range', in: 'query', schema: { type: 'string', enum: ['hour', 'day'], default: 'hour' } },
        ],
      },
    ),
  },
  '/v1/sources': {
    get: adminOp('Sources with their write keys (admin).', {
      200: jsonAnswer('Every source.', {
        type: 'object',
        required: ['sources'],
        additionalProperties: false,
        properties: { sources: { type: 'array', items: ref('Source') } },
      }),
      400: errorResponse(`Malformed request: ${PARAMETERS_INVALID}.`),
    }),
    post: adminOp(
      'Create a source; answers it with a new write key (admin).',
      {
        201: jsonAnswer('Created.', ref('Source')),
        400: errorResponse(`No valid name, an allowedOrigins that is not a list of origins, or ${BODY_INVALID}.`),
        ...bodyResponses,
      },
      { requestBody: jsonBody({ ...sourceChange, required: ['name'] }) },
    ),
  },
  '/v1/sources/{id}': {
    patch: sourceOp(
      'Rename a source or change the browser origins it accepts (admin).',
      'An invalid name or allowedOrigins',
      jsonBody(sourceChange, false),
    ),
  },
  '/v1/sources/{id}/rotate-key': {
    post: sourceOp(
      'Give a source a new write key; the old one stops working (admin).',
      "The default source's key is set by KIMLIK_WRITE_KEY (change it there)",
    ),
  },
  '/ui': {
    get: publicGet('The dashboard: live debugger, overview, profiles. Sign in with the admin key.', {
      200: text('text/html', 'The page.'),
      404: errorResponse('Not built (run `npm run build`).'),
    }),
  },
  '/ui/{file}': {
    get: publicGet(
      "The dashboard's script and style sheet (cached for good when versioned with ?v=).",
      {
        200: {
          description: 'The script, the style sheet or the source map.',
          content: {
            'application/javascript': { schema: { type: 'string' } },
            'text/css': { schema: { type: 'string' } },
            'application/json': { schema: { type: 'object', description: 'A source map.' } },
            'text/html': { schema: { type: 'string', description: 'index.html: the page, as /ui.' } },
          },
        },
        304: notModified,
        404: errorResponse('No such file.'),
      },
      [idParameter('file'), { name: 'v', in: 'query', schema: { type: 'string' } }],
    ),
  },
  '/healthz': {
    get: publicGet('Process is up.', {
      200: jsonAnswer('Up.', {
        type: 'object',
        required: ['status'],
        additionalProperties: false,
        properties: { status: { const: 'ok' } },
      }),
    }),
  },
  '/readyz': {
    get: publicGet(
      'Database reachable and committing (not ready from a failed commit until a commit or a write check succeeds).',
      {
        200: jsonAnswer('Ready.', {
          type: 'object',
          required: ['status', 'store'],
          additionalProperties: false,
          properties: { status: { const: 'ready' }, store: { type: 'string', enum: ['sqlite', 'postgres'] } },
        }),
        503: retryLater('Database unreachable or cannot commit.'),
      },
    ),
  },
  '/metrics': {
    get: publicGet('Prometheus metrics.', { 200: text('text/plain', 'Text exposition format 0.0.4.') }),
  },
  '/openapi.json': {
    get: publicGet('This document.', {
      200: jsonAnswer('OpenAPI 3.1.', {
        type: 'object',
        required: ['openapi', 'info', 'paths', 'components'],
        properties: { openapi: { const: '3.1.0' } },
      }),
    }),
  },
  '/v1/projects/{writeKey}/settings': {
    get: publicGet(
      "Settings for Segment's analytics.js (set its cdnURL to this collector): sends to this collector only, no Segment telemetry.",
      {
        200: jsonAnswer('analytics.js settings.', ref('AnalyticsSettings')),
        401: errorResponse('Unknown write key.'),
        503: storeUnavailable,
      },
      [idParameter('writeKey')],
    ),
  },
  '/sourceConfig': {
    get: publicGet(
      "Source config for RudderStack's browser SDK v3 (set its configUrl to this collector): an enabled source with no destinations, no RudderStack telemetry. Also at /sourceConfig/.",
      {
        200: jsonAnswer('The source.', ref('RudderSourceConfig')),
        401: errorResponse('Missing or unknown write key.'),
        503: storeUnavailable,
      },
      [
        {
          name: 'writeKey',
          in: 'query',
          schema: { type: 'string' },
          description: 'The write key, unless sent as the HTTP Basic username',
        },
      ],
    ),
  },
  '/kimlik.js': {
    get: publicGet('Browser SDK script-tag bundle (brotli or gzip as Accept-Encoding allows).', {
      200: text('application/javascript', 'The script.'),
      304: notModified,
      404: errorResponse('Not built (run `npm run build`).'),
    }),
  },
  '/': {
    get: publicGet('Demo page (disable with KIMLIK_DEMO=false).', { 200: text('text/html', 'The page.') }),
  },
});

export const OPENAPI = {
  openapi: '3.1.0',
  info: {
    title: 'Kimlik collector',
    version: '0.1.0',
    description: 'Segment-compatible tracking API, profiles and admin APIs.',
  },
  paths,
  components: {
    securitySchemes: {
      writeKeyBasic: { type: 'http', scheme: 'basic', description: 'Write key as the username, empty password.' },
      adminBearer: { type: 'http', scheme: 'bearer', description: 'The admin key.' },
    },
    schemas: SCHEMAS,
  },
} as const;
