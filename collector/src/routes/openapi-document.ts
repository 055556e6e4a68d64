import { EVENT_TYPES, REJECTION_CODES } from '@kimlik/core';
import { HTTP_ERRORS } from '../http/errors.js';

/**
 * The OpenAPI document served at /openapi.json. Tests compare its paths with the registered
 * routes, its error codes with HTTP_ERRORS, and every answer a real collector gives with the
 * schema documented for its operation and status, so it stays true.
 */
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
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

const stringOrNull = { type: ['string', 'null'] };
const dateTime = { type: 'string', format: 'date-time' };
const count = { type: 'integer', minimum: 0 };

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
    schemas: {
      Event: {
        type: 'object',
        properties: {
          type: {
            type: 'string',
            enum: [...EVENT_TYPES],
            description: 'Required in a batch; /v1/<type> and its short form set it from the path.',
          },
          messageId: { type: 'string', maxLength: 99 },
          timestamp: { type: 'string', format: 'date-time' },
          sentAt: { type: 'string', format: 'date-time' },
          userId: { type: 'string' },
          anonymousId: { type: 'string' },
          event: { type: 'string', description: 'track: event name (required)' },
          name: { type: 'string', description: 'page/screen name' },
          properties: { type: 'object' },
          traits: { type: 'object' },
          context: { type: 'object' },
          integrations: { type: 'object' },
          previousId: { type: 'string', description: 'alias: required' },
          groupId: { type: 'string', description: 'group: required' },
          writeKey: { type: 'string', description: 'when Basic auth cannot be sent (sendBeacon)' },
        },
        description: 'Needs userId or anonymousId.',
      },
      BatchRequest: {
        type: 'object',
        required: ['batch'],
        properties: {
          batch: {
            type: 'array',
            maxItems: 2500,
            items: { allOf: [{ $ref: '#/components/schemas/Event' }], required: ['type'] },
          },
          sentAt: { type: 'string', format: 'date-time' },
          context: { type: 'object', description: "Merged into each event's context, the event's keys winning." },
          integrations: {
            type: 'object',
            description: "Merged into each event's integrations, the event's keys winning.",
          },
          writeKey: { type: 'string' },
        },
      },
      StoredEvent: {
        type: 'object',
        description:
          'An event as stored: as sent (see Event), with the server-side fields: receivedAt, originalTimestamp, a messageId when none was sent, warnings.',
        required: ['type', 'messageId', 'timestamp', 'receivedAt'],
        properties: {
          type: { type: 'string', enum: [...EVENT_TYPES] },
          messageId: { type: 'string', description: 'At most KIMLIK_MAX_MESSAGE_ID_LENGTH - 1 characters.' },
          timestamp: dateTime,
          receivedAt: dateTime,
          originalTimestamp: dateTime,
          warnings: { type: 'array', items: { type: 'string' } },
        },
      },
      Rejection: {
        type: 'object',
        required: ['index', 'messageId', 'code', 'reason'],
        additionalProperties: false,
        properties: {
          index: { type: 'integer', minimum: 0 },
          messageId: stringOrNull,
          code: { type: 'string', enum: Object.values(REJECTION_CODES) },
          reason: { type: 'string' },
        },
      },
      BatchResponse: {
        type: 'object',
        required: ['success', 'accepted', 'duplicates', 'rejected'],
        additionalProperties: false,
        properties: {
          success: { type: 'boolean', const: true },
          accepted: {
            ...count,
            description:
              "Valid events committed, duplicates included, and an erased person's events (dropped, not named here).",
          },
          duplicates: {
            ...count,
            description: 'Of `accepted`, events already stored with the same messageId (stored once).',
          },
          rejected: { type: 'array', items: ref('Rejection') },
        },
      },
      Profile: {
        type: 'object',
        required: ['id', 'identifiers', 'traits', 'firstSeen', 'lastSeen', 'eventCount'],
        additionalProperties: false,
        properties: {
          id: { type: 'string' },
          identifiers: {
            type: 'array',
            items: {
              type: 'object',
              required: ['type', 'value'],
              additionalProperties: false,
              properties: {
                type: { type: 'string' },
                value: { type: 'string' },
                periods: {
                  type: 'array',
                  description: "A shared device's: when it belonged to this profile (null: open-ended).",
                  items: {
                    type: 'object',
                    required: ['from', 'to'],
                    additionalProperties: false,
                    properties: {
                      from: { type: ['string', 'null'], format: 'date-time' },
                      to: { type: ['string', 'null'], format: 'date-time' },
                    },
                  },
                },
              },
            },
          },
          traits: { type: 'object' },
          firstSeen: { type: ['string', 'null'], format: 'date-time' },
          lastSeen: { type: ['string', 'null'], format: 'date-time' },
          eventCount: count,
          mergedFrom: { type: 'string', description: 'The id asked for, when it was merged into this profile.' },
        },
      },
      ProfileList: {
        type: 'object',
        required: ['profiles', 'nextCursor'],
        additionalProperties: false,
        properties: {
          profiles: { type: 'array', items: ref('Profile') },
          nextCursor: { ...stringOrNull, description: 'Pass as cursor for the next page; null at the end.' },
        },
      },
      ProfileEvents: {
        type: 'object',
        required: ['profileId', 'events', 'nextCursor'],
        additionalProperties: false,
        properties: {
          profileId: { type: 'string' },
          events: { type: 'array', items: ref('StoredEvent') },
          nextCursor: { ...stringOrNull, description: 'Pass as before for the next (older) page; null at the end.' },
        },
      },
      ProfileHistory: {
        type: 'object',
        required: ['profileId', 'traits', 'identity'],
        additionalProperties: false,
        properties: {
          profileId: { type: 'string' },
          traits: {
            type: 'array',
            items: {
              type: 'object',
              required: ['trait', 'old', 'new', 'timestamp', 'messageId'],
              additionalProperties: false,
              properties: {
                trait: { type: 'string' },
                old: { description: 'null: the trait was absent' },
                new: { description: 'null: the trait was removed' },
                timestamp: dateTime,
                messageId: { type: 'string' },
              },
            },
          },
          identity: { type: 'array', items: ref('IdentityEntry') },
        },
      },
      IdentityEntry: {
        type: 'object',
        description:
          'One identity change. Each kind adds its own fields (a merge: link, survivor, absorbed); an unmerge records what it undid, so the history only grows.',
        required: ['kind', 'timestamp', 'messageId'],
        additionalProperties: true,
        properties: {
          kind: {
            type: 'string',
            enum: ['merge', 'refused_two_user_ids', 'refused_unmerged', 'device_reassigned', 'cap_reached', 'unmerge'],
          },
          timestamp: { type: 'string', format: 'date-time' },
          messageId: { type: ['string', 'null'], description: 'The event that made the change; null for an unmerge.' },
          identifier: { type: 'string', description: 'unmerge: the identifier detached, as type:value.' },
          from: { type: 'string', description: 'unmerge: the profile id it was detached from.' },
          detachedLinks: { type: 'integer', description: 'unmerge: links cut.' },
          undid: {
            type: 'array',
            description:
              'unmerge: the entries the profile left behind showed before the unmerge and no longer does, as they were shown (at most 200).',
            items: { $ref: '#/components/schemas/IdentityEntry' },
          },
          undidOmitted: { type: 'integer', description: 'unmerge: undone entries left out of `undid` to bound it.' },
          traits: {
            type: 'array',
            description:
              'unmerge: trait values it changed on the profile left behind; null stands for an absent key (at most 200).',
            items: { type: 'object', properties: { key: { type: 'string' }, from: {}, to: {} } },
          },
          traitsOmitted: { type: 'integer', description: 'unmerge: changed traits left out of `traits` to bound it.' },
        },
      },
      EventPage: {
        type: 'object',
        required: ['events', 'nextCursor'],
        additionalProperties: false,
        properties: {
          events: {
            type: 'array',
            items: {
              type: 'object',
              required: ['id', 'sourceId', 'event'],
              additionalProperties: false,
              properties: { id: { type: 'string' }, sourceId: { type: 'integer' }, event: ref('StoredEvent') },
            },
          },
          nextCursor: { ...stringOrNull, description: 'Pass as before for the next (older) page; null at the end.' },
        },
      },
      ProfileExport: {
        type: 'object',
        required: ['exportedAt', 'profile', 'events', 'setAsideEvents', 'history'],
        additionalProperties: false,
        properties: {
          exportedAt: dateTime,
          profile: ref('Profile'),
          events: { type: 'array', items: ref('StoredEvent') },
          setAsideEvents: {
            type: 'array',
            items: ref('StoredEvent'),
            description: 'Stored events naming the person whose identity failed: no profile holds them.',
          },
          history: {
            oneOf: [ref('ProfileHistory'), { type: 'null' }],
            description: "Other people's identifiers left out; an unmerge entry's trait changes list keys only.",
          },
        },
      },
      ErasedExport: {
        type: 'object',
        description: 'The export of an erased person: nothing is held, and it says why.',
        required: ['profile', 'erased', 'events', 'history'],
        additionalProperties: false,
        properties: {
          profile: { type: 'null' },
          erased: { const: true },
          events: { type: 'array', maxItems: 0 },
          history: { type: 'null' },
        },
      },
      Erasure: {
        type: 'object',
        required: ['erased', 'profileId', 'events', 'identifiers'],
        additionalProperties: false,
        properties: {
          erased: { const: true },
          profileId: { type: 'string' },
          events: { ...count, description: 'Events deleted.' },
          identifiers: { ...count, description: 'Identifiers deleted (and suppressed, hashed).' },
        },
      },
      Unmerge: {
        type: 'object',
        required: ['profileId', 'detachedProfileId', 'detachedLinks'],
        additionalProperties: false,
        properties: {
          profileId: { type: 'string' },
          detachedProfileId: { ...stringOrNull, description: 'The profile the identifier now belongs to.' },
          detachedLinks: count,
        },
      },
      Stats: {
        type: 'object',
        required: ['range', 'bucketMs', 'buckets', 'topEvents', 'totals', 'rejected'],
        additionalProperties: false,
        properties: {
          range: { type: 'string', enum: ['hour', 'day'] },
          bucketMs: { type: 'integer', minimum: 1 },
          buckets: {
            type: 'array',
            description: 'Events received per bucket, oldest first, every bucket present.',
            items: {
              type: 'object',
              required: ['start', 'events'],
              additionalProperties: false,
              properties: { start: dateTime, events: count },
            },
          },
          topEvents: {
            type: 'array',
            items: {
              type: 'object',
              required: ['type', 'name', 'events'],
              additionalProperties: false,
              properties: { type: { type: 'string' }, name: stringOrNull, events: count },
            },
          },
          totals: {
            type: 'object',
            required: ['events', 'profiles', 'merges', 'rejected'],
            additionalProperties: false,
            properties: { events: count, profiles: count, merges: count, rejected: count },
          },
          rejected: {
            type: 'object',
            required: ['since', 'byCode'],
            additionalProperties: false,
            properties: {
              since: { ...dateTime, description: 'When the process started: rejects are not stored.' },
              byCode: {
                type: 'object',
                propertyNames: { enum: Object.values(REJECTION_CODES) },
                additionalProperties: count,
              },
            },
          },
        },
      },
      Source: {
        type: 'object',
        required: ['id', 'name', 'writeKey', 'allowedOrigins'],
        additionalProperties: false,
        properties: {
          id: { type: 'integer' },
          name: { type: 'string' },
          writeKey: { type: 'string' },
          allowedOrigins: {
            type: 'array',
            items: { type: 'string' },
            description: 'Browser origins allowed to send; empty means any.',
          },
        },
      },
      AnalyticsSettings: {
        type: 'object',
        required: ['integrations', 'plan', 'metrics'],
        properties: {
          integrations: {
            type: 'object',
            required: ['Segment.io'],
            additionalProperties: false,
            properties: {
              'Segment.io': {
                type: 'object',
                required: ['apiKey', 'apiHost', 'protocol'],
                additionalProperties: false,
                properties: {
                  apiKey: { type: 'string' },
                  apiHost: { type: 'string', description: 'host/v1 as the browser reached the collector' },
                  protocol: { type: 'string', enum: ['http', 'https'] },
                },
              },
            },
          },
          plan: { type: 'object' },
          metrics: {
            type: 'object',
            required: ['sampleRate'],
            properties: { sampleRate: { const: 0 } },
          },
        },
      },
      RudderSourceConfig: {
        type: 'object',
        required: ['source'],
        additionalProperties: false,
        properties: {
          source: {
            type: 'object',
            required: ['id', 'name', 'workspaceId', 'writeKey', 'enabled', 'config', 'destinations'],
            additionalProperties: false,
            properties: {
              id: { type: 'string' },
              name: { type: 'string' },
              workspaceId: { type: 'string' },
              writeKey: { type: 'string' },
              enabled: { const: true },
              config: { type: 'object', maxProperties: 0 },
              destinations: { type: 'array', maxItems: 0 },
            },
          },
        },
      },
      Error: {
        type: 'object',
        required: ['error'],
        additionalProperties: false,
        properties: { error: ref('ErrorDetail') },
      },
      ErrorDetail: {
        type: 'object',
        required: ['code', 'message'],
        additionalProperties: false,
        properties: {
          code: { type: 'string', enum: Object.keys(HTTP_ERRORS) },
          message: { type: 'string' },
          limit: {
            type: 'integer',
            description: 'KIMLIK_BATCH_TOO_MANY_EVENTS: the most events a batch may hold.',
          },
          limitBytes: {
            type: 'integer',
            description:
              'KIMLIK_BODY_TOO_LARGE: the limit in bytes (the body limit, or 4 times it for a batch context merged into its events).',
          },
          retryAfterSeconds: {
            type: 'integer',
            minimum: 1,
            description: 'KIMLIK_OVERLOADED, KIMLIK_STORE_UNAVAILABLE: as the Retry-After header.',
          },
          rejected: {
            type: 'array',
            items: ref('Rejection'),
            description: 'KIMLIK_BATCH_ALL_REJECTED: every event, by index.',
          },
        },
      },
      IngestError: {
        description:
          'An Error; with KIMLIK_BATCH_ALL_REJECTED also the fields of a BatchResponse, so clients read one shape.',
        type: 'object',
        required: ['error'],
        additionalProperties: false,
        properties: {
          error: ref('ErrorDetail'),
          success: { type: 'boolean', const: false },
          accepted: { type: 'integer', const: 0 },
          rejected: { type: 'array', items: ref('Rejection') },
        },
      },
    },
  },
} as const;
