import { EVENT_TYPES, REJECTION_CODES } from '@kimlik/core';
import { HTTP_ERRORS } from '../http/errors.js';

/** A reference to one of the schemas below. */
export const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });

const stringOrNull = { type: ['string', 'null'] };
const dateTime = { type: 'string', format: 'date-time' };
const count = { type: 'integer', minimum: 0 };

/** The OpenAPI document's component schemas: what the API's bodies and answers hold. */
export const SCHEMAS = {
  Event: {
    type: 'object',
    properties: {
      type: {
        type: 'string',
        enum: [...EVENT_TYPES],
        description: 'Required in a batch; /v1/<type> and its short form set it from the path.',
      },
      messageId: {
        type: 'string',
        description: 'Shorter than KIMLIK_MAX_MESSAGE_ID_LENGTH characters (100 by default, as Segment); no NUL.',
      },
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
} as const;
