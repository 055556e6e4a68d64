import { DEFAULT_LIMITS, type EventType, type JsonObject, uuidv7 } from '@kimlik/core';
import { LIBRARY } from './library.js';

const LIBRARY_CONTEXT = Object.freeze({ ...LIBRARY });

export type BuiltEvent =
  | { ok: true; messageId: string; json: string }
  | { ok: false; messageId: string; code: string; reason: string };

const id = (v: unknown): string | undefined =>
  typeof v === 'string'
    ? v === ''
      ? undefined
      : v
    : typeof v === 'number' && Number.isFinite(v)
      ? String(v)
      : undefined;
const object = (v: unknown): JsonObject | undefined =>
  typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as JsonObject) : undefined;

/** No control characters: the spool's records cannot hold them (a newline ends the id there). */
const NO_CONTROL = new RegExp('^[^\\u0000-\\u001f\\u007f]+$');

/**
 * The wire timestamp, or undefined when `ts` names no instant. A string goes as given (the
 * collector parses it and refuses it if invalid). Duck-typed, not `instanceof Date`: a Date from
 * another realm (vm, Jest) and dayjs/moment objects have `toISOString()` too, and were replaced by
 * now, silently. Luxon's DateTime has no `toISOString()`, only `toISO()` (null when invalid, an
 * offset the collector accepts otherwise). A number is epoch milliseconds, as `Date.now()` gives.
 */
function timestampOf(ts: unknown, now: number): string | undefined {
  if (ts === undefined || ts === null) return new Date(now).toISOString();
  if (typeof ts === 'string') return ts;
  try {
    if (typeof ts === 'number') return Number.isFinite(ts) ? new Date(ts).toISOString() : undefined;
    if (typeof ts !== 'object') return undefined;
    const { toISOString, toISO } = ts as { toISOString?: unknown; toISO?: unknown };
    const format = typeof toISOString === 'function' ? toISOString : toISO;
    if (typeof format !== 'function') return undefined;
    const iso: unknown = format.call(ts);
    return typeof iso === 'string' ? iso : undefined;
  } catch {
    // toISOString() throws RangeError for an invalid Date or one out of range: refused by the caller.
    return undefined;
  }
}

const shown = (v: unknown): string =>
  typeof v === 'number' ? String(v) : typeof v === 'object' ? (Object.prototype.toString.call(v) as string) : typeof v;

function refuse(messageId: string, code: string, reason: string): BuiltEvent {
  return { ok: false, messageId, code, reason };
}

/**
 * Turns a Segment-shaped message into the serialized wire event: `type`, a UUIDv7 `messageId`
 * (set here, once, and kept through retries and the spool), `timestamp`, `context.library`.
 *
 * Only the checks that need no walk of the payload run here (identity, required fields); the
 * collector validates every event fully and a refusal drops only that event. The object is
 * built field by field: spreading the caller's message into a literal with extra keys cost
 * microseconds per event on V8 and dominated a burst of `track()` calls.
 */
export function buildEvent(
  type: EventType,
  message: unknown,
  now: number,
  maxMessageIdLength = DEFAULT_LIMITS.maxMessageIdLength,
): BuiltEvent {
  try {
    return build(type, message, now, maxMessageIdLength);
  } catch (err) {
    // A revoked Proxy or a throwing getter in the message: refused, never thrown into the app.
    return refuse(
      messageIdOf(message, now),
      'KIMLIK_EVENT_NOT_READABLE',
      `${type}() message could not be read: ${(err as Error)?.message ?? String(err)}`,
    );
  }
}

function messageIdOf(message: unknown, now: number): string {
  try {
    const given = (object(message) as Record<string, unknown> | undefined)?.messageId;
    return typeof given === 'string' && given !== '' ? given : uuidv7(now);
  } catch {
    // The message itself is unreadable (a revoked Proxy): the refusal gets an id of its own.
    return uuidv7(now);
  }
}

function build(type: EventType, message: unknown, now: number, maxMessageIdLength: number): BuiltEvent {
  const m = object(message) as Record<string, unknown> | undefined;
  const given = m?.messageId;
  const messageId = typeof given === 'string' && given !== '' ? given : uuidv7(now);
  if (!m) return refuse(messageId, 'KIMLIK_EVENT_NOT_OBJECT', `${type}() takes an object such as { userId, … }`);
  // What the collector refuses (maxMessageIdLength characters or more; code points, counted only
  // when the UTF-16 length is not short enough already), and control characters.
  const short = messageId.length < maxMessageIdLength || [...messageId].length < maxMessageIdLength;
  if (messageId === given && !(short && NO_CONTROL.test(messageId))) {
    return refuse(
      messageId,
      'KIMLIK_EVENT_MESSAGE_ID_INVALID',
      `messageId must have 1 to ${maxMessageIdLength - 1} characters and no control characters (maxMessageIdLength)`,
    );
  }
  const userId = id(m.userId);
  const anonymousId = id(m.anonymousId);
  if (userId === undefined && anonymousId === undefined) {
    return refuse(
      messageId,
      'KIMLIK_EVENT_IDENTITY_MISSING',
      `${type}() needs a userId or an anonymousId: a server has no implicit user`,
    );
  }
  const timestamp = timestampOf(m.timestamp, now);
  if (timestamp === undefined) {
    return refuse(
      messageId,
      'KIMLIK_EVENT_TIMESTAMP_INVALID',
      `${type}() timestamp must be a Date, an ISO-8601 string, epoch milliseconds or have toISOString() or toISO(); got ${shown(m.timestamp)}`,
    );
  }
  const context = object(m.context);
  const event: Record<string, unknown> = {
    type,
    messageId,
    timestamp,
    userId,
    anonymousId,
    context: context ? { ...context, library: LIBRARY_CONTEXT } : { library: LIBRARY_CONTEXT },
    integrations: object(m.integrations),
  };
  switch (type) {
    case 'track':
      if (typeof m.event !== 'string' || m.event === '') {
        return refuse(messageId, 'KIMLIK_EVENT_FIELD_MISSING', 'track() needs "event", the event name');
      }
      event.event = m.event;
      event.properties = m.properties;
      break;
    case 'identify':
      event.traits = m.traits;
      break;
    case 'page':
    case 'screen':
      event.name = m.name;
      // Segment's Node library carries the page category in properties.
      event.properties =
        typeof m.category === 'string' ? { category: m.category, ...object(m.properties) } : m.properties;
      break;
    case 'group': {
      const groupId = id(m.groupId);
      if (groupId === undefined) return refuse(messageId, 'KIMLIK_EVENT_FIELD_MISSING', 'group() needs groupId');
      event.groupId = groupId;
      event.traits = m.traits;
      break;
    }
    case 'alias': {
      const previousId = id(m.previousId);
      if (previousId === undefined || userId === undefined) {
        return refuse(messageId, 'KIMLIK_EVENT_FIELD_MISSING', 'alias() needs both previousId and userId');
      }
      event.previousId = previousId;
      break;
    }
  }
  try {
    return { ok: true, messageId, json: JSON.stringify(event) };
  } catch (err) {
    // BigInt values and circular structures cannot be serialized.
    return refuse(
      messageId,
      'KIMLIK_EVENT_NOT_JSON',
      `${type}() payload is not JSON-serializable: ${(err as Error).message}`,
    );
  }
}
