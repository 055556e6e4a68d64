import { ERROR_CODES, type JsonObject, KimlikError, type WireEvent } from '@kimlik/core';
import { type CallSite, pageProperties } from './context.js';
import type { ResolvedWebOptions } from './options.js';

export const isObject = (v: unknown): v is JsonObject => !!v && typeof v === 'object' && !Array.isArray(v);

/**
 * A copy of what the page passed, taken at the call: the page may change its objects afterwards
 * (`props.step = i` in a loop), and plugins must not change the user's stored traits. Values
 * JSON cannot carry (cycles, BigInt) throw, so the call is reported and dropped before it changes
 * anything (kept, a cyclic trait failed every later identify and the saved user).
 */
export function copy<T>(value: T): T {
  try {
    return JSON.parse(JSON.stringify(value));
  } catch (cause) {
    throw new KimlikError(ERROR_CODES.VALIDATION, `not JSON (${cause}): dropped`, { cause });
  }
}

/** FNV-1a of the write key and endpoint: names one source's queue records, lock and stash. */
export function sourceId(o: ResolvedWebOptions): string {
  let h = 0x811c9dc5;
  for (const c of `${o.writeKey} ${o.endpoint}`) h = Math.imul(h ^ (c.codePointAt(0) as number), 0x01000193);
  return (h >>> 0).toString(36);
}

/**
 * A page event from `page(name?, properties?)` or Segment's `page(category, name, properties?)`
 * (the category goes into the properties); properties default to the page's own.
 */
export function pageEvent(
  name?: string | JsonObject | null,
  properties?: JsonObject | string | null,
  more?: JsonObject,
  at?: CallSite,
): WireEvent {
  let category: unknown;
  // Segment's page(properties).
  if (isObject(name)) {
    properties = name;
    name = null;
  }
  if (typeof properties === 'string') {
    category = name;
    name = properties;
    properties = more;
  }
  const event: WireEvent = {
    type: 'page',
    properties: { ...pageProperties(at), ...(isObject(properties) && properties) },
  };
  if (typeof category === 'string') (event.properties as JsonObject).category = category;
  if (name) event.name = String(name);
  return event;
}
