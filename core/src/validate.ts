import type { Limits } from './limits.js';
import { EVENT_TYPES, type EventType, type WireEvent } from './protocol.js';
import { parseTimestamp } from './timestamp.js';

/** Stable codes for a single refused event; documented in the README's API section. */
export const REJECTION_CODES = {
  NOT_OBJECT: 'KIMLIK_EVENT_NOT_OBJECT',
  TYPE_INVALID: 'KIMLIK_EVENT_TYPE_INVALID',
  IDENTITY_MISSING: 'KIMLIK_EVENT_IDENTITY_MISSING',
  FIELD_MISSING: 'KIMLIK_EVENT_FIELD_MISSING',
  FIELD_INVALID: 'KIMLIK_EVENT_FIELD_INVALID',
  MESSAGE_ID_INVALID: 'KIMLIK_EVENT_MESSAGE_ID_INVALID',
  TIMESTAMP_INVALID: 'KIMLIK_EVENT_TIMESTAMP_INVALID',
  TOO_LARGE: 'KIMLIK_EVENT_TOO_LARGE',
  TOO_DEEP: 'KIMLIK_EVENT_TOO_DEEP',
  TOO_MANY_ITEMS: 'KIMLIK_EVENT_TOO_MANY_ITEMS',
  FORBIDDEN_KEY: 'KIMLIK_EVENT_FORBIDDEN_KEY',
  STRING_INVALID: 'KIMLIK_EVENT_STRING_INVALID',
  /** Valid, but the database refuses it every time it is written (the collector's stores set it). */
  NOT_STORED: 'KIMLIK_EVENT_NOT_STORED',
} as const;

export type RejectionCode = (typeof REJECTION_CODES)[keyof typeof REJECTION_CODES];

export type ValidationResult =
  /** `numericIds`: ids sent as numbers, now strings (2 bytes longer each, which the limit must not count). */
  | { ok: true; event: WireEvent; numericIds: number }
  | { ok: false; code: RejectionCode; reason: string; messageId: string | null };

/** Keys that can change an object's prototype when data is later spread or assigned. */
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor']);
const OBJECT_FIELDS = ['properties', 'traits', 'context', 'integrations'] as const;
const ID_FIELDS = ['userId', 'anonymousId', 'previousId', 'groupId'] as const;
const TIME_FIELDS = ['timestamp', 'sentAt', 'originalTimestamp'] as const;
/** Fields the server owns; a client's value is discarded rather than trusted. */
const SERVER_FIELDS = ['receivedAt', 'writeKey', 'warnings'] as const;

/** A value quoted in a reason or warning, cut short: a 20 KB field must not come back twice its size. */
export function preview(value: unknown): string {
  const text = JSON.stringify(value) ?? 'nothing';
  return text.length <= 60 ? text : `${cut(text, 60)}…`;
}

/** The first `units` UTF-16 units of `text`, one fewer where that would split a surrogate pair. */
function cut(text: string, units: number): string {
  const last = text.charCodeAt(units - 1);
  return text.slice(0, last >= 0xd800 && last <= 0xdbff ? units - 1 : units);
}

/** Length in characters (code points, an emoji is one), counted only when it may pass `limit`. */
const chars = (s: string, limit: number): number => (s.length < limit ? s.length : [...s].length);

/** A non-empty identifier: blank strings identify no one. */
const present = (v: unknown): boolean => typeof v === 'string' && v.trim() !== '';

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

export const isEventType = (v: unknown): v is EventType =>
  typeof v === 'string' && (EVENT_TYPES as readonly string[]).includes(v);

/**
 * UTF-8 length of a string without allocating a buffer, as TextEncoder writes it: a surrogate pair
 * is 4 bytes (2 units + 2), a lone surrogate 3 (U+FFFD).
 */
export function utf8Length(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) continue;
    n += c < 0x800 ? 1 : 2;
    if (c >= 0xd800 && c <= 0xdbff) {
      const next = s.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) i++;
    }
  }
  return n;
}

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
/** Strings that cannot be encoded as UTF-8; native `isWellFormed` where the runtime has it. */
function isWellFormed(s: string): boolean {
  const native = (s as { isWellFormed?: () => boolean }).isWellFormed;
  return native ? native.call(s) : !LONE_SURROGATE.test(s);
}

export interface Fault {
  code: RejectionCode;
  reason: string;
}

/** A fault found below the top: its reason is written once the path to it is known. */
interface DeepFault {
  code: RejectionCode;
  /** Path segments from the checked value down (`.key` or `[i]`), collected on the way up. */
  at: string[];
  /** The reason after the path, e.g. "is not a finite number". */
  what: string;
}

const deepFault = (code: RejectionCode, what: string): DeepFault => ({ code, at: [], what });

/**
 * Walks a JSON value iteratively-bounded: recursion stops at `maxDepth`, so hostile nesting
 * cannot exhaust the stack. Paths are only built for a fault: every event walks this, and a
 * path string per key was a third of the walk.
 */
function checkValue(value: unknown, depth: number, limits: Limits): DeepFault | null {
  if (typeof value === 'string') {
    return isWellFormed(value)
      ? null
      : deepFault(REJECTION_CODES.STRING_INVALID, 'contains an unpaired UTF-16 surrogate');
  }
  if (typeof value === 'number') {
    return Number.isFinite(value) ? null : deepFault(REJECTION_CODES.FIELD_INVALID, 'is not a finite number');
  }
  if (value === null || typeof value === 'boolean') return null;
  if (typeof value !== 'object') return deepFault(REJECTION_CODES.FIELD_INVALID, 'is not a JSON value');
  if (depth >= limits.maxDepth) {
    return deepFault(REJECTION_CODES.TOO_DEEP, `is nested deeper than ${limits.maxDepth} levels`);
  }
  if (Array.isArray(value)) {
    if (value.length > limits.maxCollectionSize) {
      return deepFault(
        REJECTION_CODES.TOO_MANY_ITEMS,
        `has ${value.length} items; the limit is ${limits.maxCollectionSize}`,
      );
    }
    for (let i = 0; i < value.length; i++) {
      const f = checkValue(value[i], depth + 1, limits);
      if (f) {
        f.at.push(`[${i}]`);
        return f;
      }
    }
    return null;
  }
  const keys = Object.keys(value);
  if (keys.length > limits.maxCollectionSize) {
    return deepFault(
      REJECTION_CODES.TOO_MANY_ITEMS,
      `has ${keys.length} keys; the limit is ${limits.maxCollectionSize}`,
    );
  }
  for (const key of keys) {
    if (FORBIDDEN_KEYS.has(key)) {
      return deepFault(
        REJECTION_CODES.FORBIDDEN_KEY,
        `has the key "${key}", which is not allowed because it can alter object prototypes`,
      );
    }
    if (!isWellFormed(key)) {
      return deepFault(REJECTION_CODES.STRING_INVALID, 'has a key with an unpaired UTF-16 surrogate');
    }
    const f = checkValue((value as Record<string, unknown>)[key], depth + 1, limits);
    if (f) {
      f.at.push(`.${key}`);
      return f;
    }
  }
  return null;
}

/** `value` checked, its fault (if any) told from `path`. */
function checkAt(value: unknown, path: string, limits: Limits): Fault | null {
  const f = checkValue(value, 0, limits);
  if (!f) return null;
  // Segments were pushed from the deepest up.
  return { code: f.code, reason: `${path}${f.at.reverse().join('')} ${f.what}` };
}

/**
 * Checks a JSON value that is not an event but becomes part of events (a batch's `context`, merged
 * into each): the same depth, size, key and string rules. Null when it passes.
 */
export function checkJsonValue(value: unknown, path: string, limits: Limits): Fault | null {
  return checkAt(value, path, limits);
}

const reject = (code: RejectionCode, reason: string, messageId: string | null): ValidationResult => ({
  ok: false,
  code,
  reason,
  messageId,
});

/**
 * Validates one event as a client sent it and returns a normalized copy (or, with `inPlace`, the
 * same object normalized): identifiers given as
 * numbers become strings (as Segment's API accepts them), server-owned fields are dropped.
 * `impliedType` is the type a single-event endpoint such as `/v1/track` stands for.
 */
export function validateEvent(
  raw: unknown,
  limits: Limits,
  impliedType?: EventType,
  options: { inPlace?: boolean } = {},
): ValidationResult {
  if (!isPlainObject(raw)) {
    return reject(
      REJECTION_CODES.NOT_OBJECT,
      `event must be a JSON object, got ${raw === null ? 'null' : Array.isArray(raw) ? 'an array' : typeof raw}`,
      null,
    );
  }
  const rawId = raw.messageId;
  const messageId = typeof rawId === 'string' ? rawId : null;
  if (rawId !== undefined && rawId !== null) {
    if (!present(rawId)) {
      return reject(REJECTION_CODES.MESSAGE_ID_INVALID, 'messageId must be a non-empty string', null);
    }
    const id = rawId as string;
    // PostgreSQL text cannot hold NUL (it stores U+FFFD): "a\u0000b" and "a\uFFFDb" would be one
    // dedup key there, and the second event answered a duplicate and lost.
    if (id.includes('\u0000')) {
      return reject(REJECTION_CODES.MESSAGE_ID_INVALID, 'messageId contains a NUL character (U+0000)', null);
    }
    const length = chars(id, limits.maxMessageIdLength);
    if (length >= limits.maxMessageIdLength) {
      return reject(
        REJECTION_CODES.MESSAGE_ID_INVALID,
        `messageId is ${length} characters; it must be shorter than ${limits.maxMessageIdLength}`,
        cut(id, limits.maxMessageIdLength),
      );
    }
  }
  const type = impliedType ?? raw.type;
  if (!isEventType(type)) {
    return reject(
      REJECTION_CODES.TYPE_INVALID,
      `type must be one of ${EVENT_TYPES.join(', ')}; got ${preview(raw.type)}`,
      messageId,
    );
  }
  const fault = checkAt(raw, 'event', limits);
  if (fault) return reject(fault.code, fault.reason, messageId);

  // In place for an object the caller owns (a freshly parsed body): V8 adds properties to
  // JSON.parse objects ~4x faster than to spread copies, and ingest adds several per event.
  const event: Record<string, unknown> = options.inPlace ? raw : { ...raw, type };
  if (event.type !== type) event.type = type;
  // `delete` only where the key exists: deleting turns V8 objects into slow dictionaries, which
  // costs on every later access and on JSON.stringify.
  for (const f of SERVER_FIELDS) if (f in event) delete event[f];
  if (rawId === null) delete event.messageId;

  let numericIds = 0;
  for (const f of ID_FIELDS) {
    const v = event[f];
    if (v === undefined || v === null) {
      if (v === null) delete event[f];
      continue;
    }
    if (typeof v === 'number' && Number.isFinite(v)) {
      // JSON.parse already rounded it (9007199254740993 reads as ...992): another person's id.
      if (Number.isInteger(v) && !Number.isSafeInteger(v)) {
        return reject(
          REJECTION_CODES.FIELD_INVALID,
          `${f} is a number too large to be read exactly (past 2^53): send it as a string`,
          messageId,
        );
      }
      event[f] = String(v);
      numericIds++;
    } else if (typeof v !== 'string') {
      return reject(REJECTION_CODES.FIELD_INVALID, `${f} must be a string, got ${typeof v}`, messageId);
    }
    if (chars(event[f] as string, limits.maxIdLength + 1) > limits.maxIdLength) {
      return reject(REJECTION_CODES.FIELD_INVALID, `${f} is longer than ${limits.maxIdLength} characters`, messageId);
    }
  }
  if (!present(event.userId) && !present(event.anonymousId)) {
    return reject(
      REJECTION_CODES.IDENTITY_MISSING,
      'every event needs a userId or an anonymousId (a non-empty string)',
      messageId,
    );
  }
  for (const f of OBJECT_FIELDS) {
    const v = event[f];
    if (v === null) delete event[f];
    else if (v !== undefined && !isPlainObject(v)) {
      return reject(REJECTION_CODES.FIELD_INVALID, `${f} must be a JSON object`, messageId);
    }
  }
  for (const f of TIME_FIELDS) {
    const v = event[f];
    if (v === undefined || v === null) {
      if (v === null) delete event[f];
      continue;
    }
    if (typeof v !== 'string' || parseTimestamp(v) === null) {
      return reject(
        REJECTION_CODES.TIMESTAMP_INVALID,
        `${f} must be an ISO-8601 date-time such as 2026-01-31T12:00:00.000Z; got ${preview(v)}`,
        messageId,
      );
    }
  }
  if (type === 'track') {
    if (event.event !== undefined && event.event !== null && typeof event.event !== 'string') {
      return reject(
        REJECTION_CODES.FIELD_INVALID,
        `event, the event name, must be a string; got ${preview(event.event)}`,
        messageId,
      );
    }
    if (!present(event.event)) {
      return reject(REJECTION_CODES.FIELD_MISSING, 'a track event needs "event", the event name', messageId);
    }
  }
  if (type === 'page' || type === 'screen') {
    // Segment's Python library sends `name: null` for a page without a name.
    if (event.name === null) delete event.name;
    else if (event.name !== undefined && typeof event.name !== 'string') {
      return reject(REJECTION_CODES.FIELD_INVALID, `name must be a string; got ${preview(event.name)}`, messageId);
    }
  }
  if (type === 'alias' && (!event.previousId || !event.userId)) {
    return reject(REJECTION_CODES.FIELD_MISSING, 'an alias event needs both previousId and userId', messageId);
  }
  if (type === 'group' && !event.groupId) {
    return reject(REJECTION_CODES.FIELD_MISSING, 'a group event needs groupId', messageId);
  }
  return { ok: true, event: event as unknown as WireEvent, numericIds };
}

/**
 * Size check on the serialization the caller makes anyway (to store or to send), so an event is
 * stringified once. Returns the refusal, or null when it fits.
 */
export function checkEventSize(
  serialized: string,
  limits: Pick<Limits, 'maxEventBytes'>,
): { code: RejectionCode; reason: string } | null {
  // UTF-8 is at most 3 bytes per UTF-16 unit: most events skip the exact count.
  if (serialized.length * 3 <= limits.maxEventBytes) return null;
  const bytes = utf8Length(serialized);
  return bytes <= limits.maxEventBytes ? null : eventTooLarge(bytes, limits);
}

/** The refusal of an event of `bytes` bytes over the limit. */
export function eventTooLarge(
  bytes: number,
  limits: Pick<Limits, 'maxEventBytes'>,
): { code: RejectionCode; reason: string } {
  return {
    code: REJECTION_CODES.TOO_LARGE,
    reason: `event is ${bytes} bytes; the limit is ${limits.maxEventBytes} bytes per event`,
  };
}
