import { preview } from '@kimlik/core';

/**
 * Which values of an event identify a person, and which never may. Pure: shared by the writer
 * (to link) and the read API (to look up).
 */
export type IdentifierType = 'anonymousId' | 'userId' | 'email' | 'phone';
export const TRAIT_IDENTIFIER_TYPES = ['email', 'phone'] as const;
export type TraitIdentifierType = (typeof TRAIT_IDENTIFIER_TYPES)[number];

export interface Identifier {
  type: IdentifierType;
  value: string;
}

/** Values clients send when they have no real ID: linking on them glues whole populations together. */
export const DEFAULT_BLOCKED_VALUES: readonly string[] = Object.freeze([
  '',
  'null',
  'undefined',
  'anonymous',
  'guest',
  '0',
  '-1',
  'nan',
  '[object object]',
  'none',
  'nil',
  'unknown',
  'n/a',
  'true',
  'false',
]);

/**
 * Longest identifier value, in UTF-8 bytes. No real ID, email or phone is longer, and PostgreSQL
 * indexes the values (one B-tree entry holds at most 2 704 bytes: a longer value failed the whole
 * identity batch, again on every retry). The ingest limit (1 024 characters) allows 3 072 bytes.
 */
export const MAX_IDENTIFIER_BYTES = 1024;

// All zeros or dashes, like 00000000-0000-0000-0000-000000000000 or "----".
const PLACEHOLDER = /^[0\s-]+$/;

export interface IdentityConfig {
  /** Trait keys that identify a person, read from `traits` and `context.traits`. */
  traitIdentifiers: readonly TraitIdentifierType[];
  /** Lower-cased values that are never identifiers. */
  blockedValues: ReadonlySet<string>;
}

/** Blocked: a configured value, a placeholder, or nothing at all (whatever the configured list says). */
export function isBlocked(value: string, config: IdentityConfig): boolean {
  const v = value.trim().toLowerCase();
  return v === '' || config.blockedValues.has(v) || PLACEHOLDER.test(v);
}

/**
 * Trims; emails are case-insensitive in practice, phones keep digits and a leading +. NUL becomes
 * U+FFFD, as PostgreSQL stores it (its text cannot hold NUL), so lookups agree on every store.
 */
export function normalize(type: IdentifierType, value: string): string {
  const v = value.trim().replaceAll('\u0000', '\uFFFD');
  if (type === 'email') return v.toLowerCase();
  if (type === 'phone') return v.replace(/(?!^\+)[^\d]/g, '');
  return v;
}

/**
 * A normalized phone that could be someone's: not all zeros ("+000"), and at least 6 digits, so a
 * country code alone ("+44", what an empty phone widget sends) or a short code links no one.
 */
const isPhoneNumber = (value: string) => /^\+?(?!0+$)\d{6,}$/.test(value);

export const identifierKey = (i: Identifier) => `${i.type}:${i.value}`;

export interface EventIdentifiers {
  anonymousId?: Identifier;
  userId?: Identifier;
  traits: Identifier[];
  /** alias: the earlier identity being joined to userId. */
  previousId?: Identifier;
  /** Values refused as identifiers (the event is still stored, with a warning). */
  blocked: string[];
}

export const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Identifiers carried by one event. `previousIdIsUser` tells whether an alias's previousId is a
 * known userId (then it is one) rather than an anonymous ID.
 */
export function extractIdentifiers(
  event: {
    type: string;
    anonymousId?: unknown;
    userId?: unknown;
    previousId?: unknown;
    traits?: unknown;
    context?: unknown;
  },
  config: IdentityConfig,
  previousIdIsUser: (value: string) => boolean = () => false,
): EventIdentifiers {
  const out: EventIdentifiers = { traits: [], blocked: [] };
  const take = (type: IdentifierType, raw: unknown): Identifier | undefined => {
    if (typeof raw !== 'string' && typeof raw !== 'number') return undefined;
    const s = String(raw);
    const value = normalize(type, s);
    // Checked after normalizing too: "n/a." is a phone of no digits, which would link everyone who typed nonsense.
    if (isBlocked(s, config) || isBlocked(value, config) || (type === 'phone' && !isPhoneNumber(value))) {
      out.blocked.push(`${type}=${JSON.stringify(s)}`);
      return undefined;
    }
    // UTF-8 takes at most 3 bytes per UTF-16 unit: only long values need counting.
    if (value.length * 3 > MAX_IDENTIFIER_BYTES && Buffer.byteLength(value) > MAX_IDENTIFIER_BYTES) {
      out.blocked.push(`${type}=${preview(s)} (longer than ${MAX_IDENTIFIER_BYTES} bytes)`);
      return undefined;
    }
    return { type, value };
  };
  out.anonymousId = take('anonymousId', event.anonymousId);
  out.userId = take('userId', event.userId);
  if (event.type === 'alias' && typeof event.previousId === 'string') {
    const prev = event.previousId.trim();
    out.previousId = take(previousIdIsUser(prev) ? 'userId' : 'anonymousId', prev);
  }
  // A group's traits describe the company (its billing email links no two people); context.traits are the user's.
  const traits = event.type === 'group' || !isObject(event.traits) ? undefined : event.traits;
  const contextTraits = isObject(event.context) && isObject(event.context.traits) ? event.context.traits : undefined;
  for (const type of config.traitIdentifiers) {
    // Per key, traits win over context.traits (as for trait values): an email they override, or
    // remove with null, is not this person's and must not claim its owner's address.
    const id = take(type, traits && Object.hasOwn(traits, type) ? traits[type] : contextTraits?.[type]);
    if (id) out.traits.push(id);
  }
  for (const k of ['anonymousId', 'userId', 'previousId'] as const) if (out[k] === undefined) delete out[k];
  return out;
}

/** Every identifier of the event, in a fixed order: userId, trait identifiers, anonymousId, previousId. */
export function allIdentifiers(ids: EventIdentifiers): Identifier[] {
  const list: Identifier[] = [];
  if (ids.userId) list.push(ids.userId);
  list.push(...ids.traits);
  if (ids.anonymousId) list.push(ids.anonymousId);
  if (ids.previousId) list.push(ids.previousId);
  return list;
}
