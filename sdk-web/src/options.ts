import {
  checkNumber,
  checkOneOf,
  checkQueueOptions,
  InvalidOptionError,
  type KimlikError,
  MAX_EVENT_BYTES,
  type QueueOptions,
  type ResolvedQueueOptions,
} from '@kimlik/core';

export type ConsentState = 'granted' | 'denied' | 'pending';
export const CONSENT_STATES: readonly ConsentState[] = ['granted', 'denied', 'pending'];

/**
 * What `init()` accepts. Every default is in `DEFAULTS` below and in the README's option table.
 * The queue options (batching, bounds, retries) are core's `QueueOptions`, with defaults chosen
 * for a browser: small batches sent soon, a 10 000-event queue. One request is in flight at a time.
 */
export interface WebOptions extends QueueOptions {
  /** The source's public write key. Required. */
  writeKey: string;
  /**
   * Collector origin (or base URL) events are posted to.
   * @defaultValue the page's origin; for the script tag, the origin the script was loaded from
   */
  endpoint?: string;
  /** Bytes sent with sendBeacon/keepalive on page exit; browsers share 64 KB among all. @defaultValue 60000 */
  beaconBytes?: number;
  /** Longest `flush()` waits for the collector. @defaultValue 10000 */
  flushTimeoutMs?: number;
  /** Consent at start; change it with `consent()`. @defaultValue 'granted' */
  consent?: ConsentState;
  /** Treat Global Privacy Control and Do-Not-Track as consent denied. @defaultValue false */
  respectPrivacySignals?: boolean;
  /** Send a page view on load and on each history navigation. @defaultValue true */
  autoPage?: boolean;
  /** Cookie domain of the anonymous ID; empty: the top registrable domain, found by a probe. @defaultValue '' */
  cookieDomain?: string;
  /** Days the anonymous-ID cookie lives. @defaultValue 365 */
  cookieDays?: number;
  /** Prefix of the cookie, localStorage keys, IndexedDB database, lock and channel. @defaultValue 'kimlik' */
  storagePrefix?: string;
  /** Where failures go; the SDK never throws into the page. @defaultValue console.warn of the code and message */
  onError?: (error: KimlikError) => void;
}

export interface ResolvedWebOptions extends Readonly<Required<Omit<WebOptions, keyof QueueOptions>>> {
  readonly delivery: ResolvedQueueOptions;
}

export const DEFAULTS = Object.freeze({
  endpoint: '',
  flushAt: 20,
  flushIntervalMs: 1000,
  maxBatchEvents: 100,
  maxBatchBytes: 500_000,
  maxEventBytes: MAX_EVENT_BYTES,
  maxQueueEvents: 10_000,
  maxQueueBytes: 5 * 1024 * 1024,
  maxRetries: Number.POSITIVE_INFINITY,
  retryBaseMs: 1000,
  retryMaxMs: 30_000,
  beaconBytes: 60_000,
  flushTimeoutMs: 10_000,
  consent: 'granted' as ConsentState,
  respectPrivacySignals: false,
  autoPage: true,
  cookieDomain: '',
  cookieDays: 365,
  storagePrefix: 'kimlik',
  onError: (error: KimlikError) => console.warn('[kimlik]', error.code, error.message, error),
});

/** Validates, merges with `DEFAULTS`, freezes. Throws `InvalidOptionError`, only from `init()`. */
export function resolveOptions(options: WebOptions, pageOrigin: string): ResolvedWebOptions {
  if (!options?.writeKey || typeof options.writeKey !== 'string') {
    throw new InvalidOptionError('writeKey', "required, e.g. init({ writeKey: 'wk_…' })");
  }
  const o = { ...DEFAULTS } as Record<string, unknown>;
  for (const [key, value] of Object.entries(options)) if (value !== undefined) o[key] = value;
  for (const key of ['beaconBytes', 'flushTimeoutMs', 'cookieDays']) checkNumber(o, key, 1);
  checkOneOf(o, 'consent', CONSENT_STATES);
  if (typeof o.onError !== 'function') throw new InvalidOptionError('onError', 'pass a function');
  o.endpoint = String(o.endpoint || pageOrigin).replace(/\/+$/, '');
  if (!/^https?:\/\//.test(o.endpoint as string)) {
    throw new InvalidOptionError('endpoint', "use an absolute URL, e.g. 'https://c.example.com'");
  }
  o.delivery = checkQueueOptions(o as unknown as Required<QueueOptions>);
  return Object.freeze(o) as unknown as ResolvedWebOptions;
}
