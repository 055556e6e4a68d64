import { EVENT_TYPES } from '@kimlik/core';
import { HTTP_ERRORS } from '../http/errors.js';

/**
 * The OpenAPI document served at /openapi.json. A test compares its paths with the registered
 * routes and its error codes with HTTP_ERRORS, so it stays true.
 */
const errorResponse = (description: string) => ({
  description,
  content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
});

const ingestResponses = {
  200: {
    description: 'Committed. Invalid events are listed in `rejected` by index; the rest are stored.',
    content: { 'application/json': { schema: { $ref: '#/components/schemas/BatchResponse' } } },
  },
  400: {
    description:
      'Not a batch, or every event invalid: then `rejected` lists each (also inside `error`), as in a partial success.',
    content: { 'application/json': { schema: { $ref: '#/components/schemas/IngestError' } } },
  },
  401: errorResponse('Missing or unknown write key.'),
  403: errorResponse('Origin not allowed for this source.'),
  413: errorResponse('Body larger than the limit (after decompression).'),
  415: errorResponse('Unsupported Content-Type or Content-Encoding.'),
  429: errorResponse('Ingest queue full; retry after Retry-After.'),
  503: errorResponse('Database cannot commit; retry after Retry-After.'),
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
      'application/json': { schema: { $ref: `#/components/schemas/${schema}` } },
      'text/plain': jsonText(schema, 'sendBeacon, which avoids a CORS preflight'),
      'application/x-www-form-urlencoded': jsonText(schema, "axios posting a Buffer, e.g. RudderStack's Node SDK"),
      'application/octet-stream': jsonText(schema, 'a raw or gzipped Buffer'),
    },
  },
  responses: ingestResponses,
});

const adminResponses = (ok: object) => ({
  200: ok,
  400: errorResponse('Invalid query parameter.'),
  401: errorResponse('Missing or wrong admin key.'),
});

/** An admin operation on one source (`{id}` in the path) answering the source. */
const sourceOp = (summary: string) => ({
  summary,
  security: [{ adminBearer: [] }],
  parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
  responses: {
    ...adminResponses({ description: '{id, name, writeKey, allowedOrigins}' }),
    404: errorResponse('No such source.'),
  },
});

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
    get: {
      summary: 'Stored events, newest first (admin).',
      security: [{ adminBearer: [] }],
      parameters: [
        { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 1000, default: 100 } },
        { name: 'before', in: 'query', schema: { type: 'string' }, description: 'nextCursor of the previous page' },
      ],
      responses: adminResponses({
        description: 'A page of events.',
        content: { 'application/json': { schema: { $ref: '#/components/schemas/EventPage' } } },
      }),
    },
  },
  '/v1/profiles': {
    get: {
      summary: 'Look a profile up by one identifier, or list profiles by a trait (admin).',
      security: [{ adminBearer: [] }],
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
      responses: {
        ...adminResponses({
          description: 'A profile (lookup) or {profiles, nextCursor} (trait listing).',
          content: { 'application/json': { schema: { $ref: '#/components/schemas/Profile' } } },
        }),
        404: errorResponse('No profile holds this identifier.'),
      },
    },
  },
  '/v1/profiles/{id}': {
    get: {
      summary: 'A profile; a merged-away id answers with the survivor and `mergedFrom`.',
      security: [{ adminBearer: [] }],
      parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
      responses: {
        ...adminResponses({
          description: 'The profile.',
          content: { 'application/json': { schema: { $ref: '#/components/schemas/Profile' } } },
        }),
        404: errorResponse('No such profile.'),
      },
    },
    delete: {
      summary: 'GDPR erasure: events, traits, identifiers, history; identifiers suppressed (hashed).',
      security: [{ adminBearer: [] }],
      parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
      responses: {
        ...adminResponses({ description: 'Erased: counts of events and identifiers.' }),
        404: errorResponse('No such profile.'),
      },
    },
  },
  '/v1/profiles/{id}/events': {
    get: {
      summary: 'The stitched timeline across all identifiers, newest first.',
      security: [{ adminBearer: [] }],
      parameters: [
        { name: 'id', in: 'path', required: true, schema: { type: 'string' } },
        { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 1000, default: 100 } },
        { name: 'before', in: 'query', schema: { type: 'string' } },
      ],
      responses: {
        ...adminResponses({ description: '{profileId, events, nextCursor}' }),
        404: errorResponse('No such profile.'),
      },
    },
  },
  '/v1/profiles/{id}/history': {
    get: {
      summary: 'Trait changes, merges, refused links, device reassignments and unmerges.',
      security: [{ adminBearer: [] }],
      parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
      responses: {
        ...adminResponses({
          description: '{profileId, traits, identity}',
          content: { 'application/json': { schema: { $ref: '#/components/schemas/ProfileHistory' } } },
        }),
        404: errorResponse('No such profile.'),
      },
    },
  },
  '/v1/profiles/{id}/export': {
    get: {
      summary: 'Everything held about the person as one JSON download (GDPR access).',
      security: [{ adminBearer: [] }],
      parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
      responses: {
        ...adminResponses({
          description:
            '{profile, events, setAsideEvents, history} (setAsideEvents: stored events naming the person whose identity failed); {profile: null, erased: true, events: []} after erasure.',
        }),
        404: errorResponse('No such profile.'),
      },
    },
  },
  '/v1/profiles/{id}/unmerge': {
    post: {
      summary: 'Detach an identifier from a profile; the link is ignored from then on.',
      security: [{ adminBearer: [] }],
      parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
      requestBody: {
        required: true,
        content: {
          'application/json': {
            schema: {
              type: 'object',
              required: ['type', 'value'],
              properties: {
                type: { type: 'string', enum: ['userId', 'anonymousId', 'email', 'phone'] },
                value: { type: 'string' },
              },
            },
          },
        },
      },
      responses: {
        ...adminResponses({ description: '{profileId, detachedProfileId, detachedLinks}' }),
        404: errorResponse('No such profile, or the identifier is not in it.'),
        409: errorResponse("The identifier is the profile's only one: nothing to detach it from."),
      },
    },
  },
  '/v1/stream/events': {
    get: {
      summary: 'Live feed of accepted and rejected events as server-sent events (admin; the live debugger).',
      description:
        'text/event-stream. `event: items` carries `{items, dropped}` about ten times a second: items are ' +
        '`{kind: "event", sourceId, outcome: "stored"|"duplicate"|"suppressed", event}` or `{kind: "rejected", ' +
        'sourceId, receivedAt, index, messageId, code, reason}`; `dropped` counts items a slow reader missed. ' +
        '`event: hello` opens it with `{flushIntervalMs, heartbeatMs}`, and a comment line comes every heartbeatMs ' +
        '(nothing heard for two of them: the connection is dead). `event: bye` when the collector shuts down. ' +
        'Read it with fetch() and the Authorization header.',
      security: [{ adminBearer: [] }],
      responses: {
        200: {
          description: 'An endless event stream.',
          content: { 'text/event-stream': { schema: { type: 'string' } } },
        },
        401: errorResponse('Missing or wrong admin key.'),
      },
    },
  },
  '/v1/stats': {
    get: {
      summary: 'Events per minute, top events, counts of profiles, merges and rejects (admin; the overview).',
      security: [{ adminBearer: [] }],
      parameters: [{ name: 'range', in: 'query', schema: { type: 'string', enum: ['hour', 'day'], default: 'hour' } }],
      responses: adminResponses({
        description:
          '{range, bucketMs, buckets: [{start, events}], topEvents: [{type, name, events}], totals: {events, ' +
          'profiles, merges, rejected}, rejected: {since, byCode}}. Rejects are counted since the process started.',
      }),
    },
  },
  '/v1/sources': {
    get: {
      summary: 'Sources with their write keys (admin).',
      security: [{ adminBearer: [] }],
      responses: adminResponses({ description: '{sources: [{id, name, writeKey, allowedOrigins}]}' }),
    },
    post: {
      summary: 'Create a source: {name, allowedOrigins?}; answers it with a new write key (admin).',
      security: [{ adminBearer: [] }],
      responses: {
        ...adminResponses({ description: '{id, name, writeKey, allowedOrigins}' }),
        201: { description: 'created' },
      },
    },
  },
  '/v1/sources/{id}': {
    patch: sourceOp('Rename a source or change the browser origins it accepts: {name?, allowedOrigins?} (admin).'),
  },
  '/v1/sources/{id}/rotate-key': {
    post: sourceOp('Give a source a new write key; the old one stops working (admin).'),
  },
  '/ui': {
    get: {
      summary: 'The dashboard: live debugger, overview, profiles. Sign in with the admin key.',
      responses: { 200: { description: 'HTML' }, 404: errorResponse('Not built (run `npm run build`).') },
    },
  },
  '/ui/{file}': {
    get: {
      summary: "The dashboard's script and style sheet (cached for good when versioned with ?v=).",
      parameters: [{ name: 'file', in: 'path', required: true, schema: { type: 'string' } }],
      responses: {
        200: { description: 'JavaScript, CSS or a source map' },
        304: { description: 'unchanged' },
        404: errorResponse('No such file.'),
      },
    },
  },
  '/healthz': { get: { summary: 'Process is up.', responses: { 200: { description: 'ok' } } } },
  '/readyz': {
    get: {
      summary:
        'Database reachable and committing (not ready from a failed commit until a commit or a write check succeeds).',
      responses: { 200: { description: 'ready' }, 503: errorResponse('Database unreachable or cannot commit.') },
    },
  },
  '/metrics': {
    get: { summary: 'Prometheus metrics.', responses: { 200: { description: 'text exposition format' } } },
  },
  '/openapi.json': { get: { summary: 'This document.', responses: { 200: { description: 'OpenAPI 3.1' } } } },
  '/v1/projects/{writeKey}/settings': {
    get: {
      summary:
        "Settings for Segment's analytics.js (set its cdnURL to this collector): sends to this collector only, no Segment telemetry.",
      parameters: [{ name: 'writeKey', in: 'path', required: true, schema: { type: 'string' } }],
      responses: { 200: { description: 'analytics.js settings JSON' }, 401: errorResponse('Unknown write key.') },
    },
  },
  '/sourceConfig': {
    get: {
      summary:
        "Source config for RudderStack's browser SDK v3 (set its configUrl to this collector): an enabled source with no destinations, no RudderStack telemetry. Also at /sourceConfig/.",
      parameters: [
        {
          name: 'writeKey',
          in: 'query',
          schema: { type: 'string' },
          description: 'The write key, unless sent as the HTTP Basic username',
        },
      ],
      responses: {
        200: { description: '{source: {id, name, workspaceId, writeKey, enabled, config, destinations: []}}' },
        401: errorResponse('Missing or unknown write key.'),
      },
    },
  },
  '/kimlik.js': {
    get: {
      summary: 'Browser SDK script-tag bundle.',
      responses: { 200: { description: 'JavaScript' }, 304: { description: 'unchanged' } },
    },
  },
  '/': { get: { summary: 'Demo page (disable with KIMLIK_DEMO=false).', responses: { 200: { description: 'HTML' } } } },
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
      Rejection: {
        type: 'object',
        properties: {
          index: { type: 'integer' },
          messageId: { type: ['string', 'null'] },
          code: { type: 'string' },
          reason: { type: 'string' },
        },
      },
      BatchResponse: {
        type: 'object',
        required: ['success', 'accepted', 'duplicates', 'rejected'],
        properties: {
          success: { type: 'boolean', const: true },
          accepted: {
            type: 'integer',
            description:
              "Valid events committed, duplicates included, and an erased person's events (dropped, not named here).",
          },
          duplicates: {
            type: 'integer',
            description: 'Of `accepted`, events already stored with the same messageId (stored once).',
          },
          rejected: { type: 'array', items: { $ref: '#/components/schemas/Rejection' } },
        },
      },
      Profile: {
        type: 'object',
        properties: {
          id: { type: 'string' },
          identifiers: {
            type: 'array',
            items: { type: 'object', properties: { type: { type: 'string' }, value: { type: 'string' } } },
          },
          traits: { type: 'object' },
          firstSeen: { type: ['string', 'null'], format: 'date-time' },
          lastSeen: { type: ['string', 'null'], format: 'date-time' },
          eventCount: { type: 'integer' },
          mergedFrom: { type: 'string' },
        },
      },
      ProfileHistory: {
        type: 'object',
        properties: {
          profileId: { type: 'string' },
          traits: {
            type: 'array',
            items: {
              type: 'object',
              properties: {
                trait: { type: 'string' },
                old: {},
                new: {},
                timestamp: { type: 'string', format: 'date-time' },
                messageId: { type: 'string' },
              },
            },
          },
          identity: { type: 'array', items: { $ref: '#/components/schemas/IdentityEntry' } },
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
        properties: {
          events: { type: 'array', items: { type: 'object' } },
          nextCursor: { type: ['string', 'null'] },
        },
      },
      Error: {
        type: 'object',
        required: ['error'],
        properties: {
          error: {
            type: 'object',
            required: ['code', 'message'],
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
                description: 'KIMLIK_OVERLOADED, KIMLIK_STORE_UNAVAILABLE: as the Retry-After header.',
              },
              rejected: {
                type: 'array',
                items: { $ref: '#/components/schemas/Rejection' },
                description: 'KIMLIK_BATCH_ALL_REJECTED: every event, by index.',
              },
            },
          },
        },
      },
      IngestError: {
        description:
          'An Error; with KIMLIK_BATCH_ALL_REJECTED also the fields of a BatchResponse, so clients read one shape.',
        allOf: [
          { $ref: '#/components/schemas/Error' },
          {
            type: 'object',
            properties: {
              success: { type: 'boolean', const: false },
              accepted: { type: 'integer', const: 0 },
              rejected: { type: 'array', items: { $ref: '#/components/schemas/Rejection' } },
            },
          },
        ],
      },
    },
  },
} as const;
