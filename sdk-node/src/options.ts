import {
  DEFAULT_LIMITS,
  DELIVERY_DEFAULTS,
  type DeliveryOptions,
  InvalidOptionError,
  type KimlikError,
  MAX_MESSAGE_ID_LENGTH,
  MAX_TIMER_MS,
  type ResolvedDeliveryOptions,
  resolveDeliveryOptions,
} from '@kimlik/core';
import { refuseUnknownOptions } from './option-hints.js';

/** The durable spool: events are written here before `track()` returns. */
export interface SpoolOptions {
  /** Directory of the spool; created if missing. One process at a time per directory. */
  dir: string;
  /**
   * Disk use of the spool. Events that do not fit in memory (`maxQueueEvents`/`maxQueueBytes`)
   * wait here; once the files reach this size, new events are dropped and reported
   * (`KIMLIK_DELIVERY_QUEUE_FULL`) until the collector catches up. @defaultValue 1073741824 (1 GiB)
   */
  maxBytes?: number;
  /** Size at which the active segment file is closed and a new one started. @defaultValue 8388608 (8 MiB) */
  segmentBytes?: number;
  /** `fdatasync` once per tick of appends (not per event); false trusts the page cache (survives crashes, not power loss). @defaultValue true */
  fsync?: boolean;
}

export interface KimlikOptions extends DeliveryOptions {
  /** The source's write key (sent as the Basic-auth user name). Required. */
  writeKey: string;
  /** The collector's base URL. @defaultValue 'http://127.0.0.1:8080' */
  endpoint?: string;
  /** Durable spool on disk; without it events live in memory only. @defaultValue undefined */
  spool?: SpoolOptions;
  /** Keep-alive connections to the collector (the http Agent's `maxSockets`). @defaultValue 4 */
  connections?: number;
  /** Time to wait for a response before retrying. @defaultValue 10000 */
  requestTimeoutMs?: number;
  /** gzip level of request bodies, 0 (no compression) to 9. @defaultValue 6 */
  gzipLevel?: number;
  /**
   * A `messageId` you pass must be shorter than this: the collector's `KIMLIK_MAX_MESSAGE_ID_LENGTH`
   * (Segment's 100 unless raised there), at most 512. @defaultValue 100
   */
  maxMessageIdLength?: number;
  /** Flush by itself when the process has nothing else to do (`beforeExit`). @defaultValue true */
  flushOnExit?: boolean;
  /** Longest the `beforeExit` flush keeps the process alive. @defaultValue 5000 */
  exitFlushTimeoutMs?: number;
  /** Default timeout of `shutdown()`. @defaultValue 5000 */
  shutdownTimeoutMs?: number;
  /** Events that will not be delivered (rejected, dropped, stopped) and storage failures. @defaultValue a rate-limited `process.emitWarning` */
  onError?: (error: KimlikError) => void;
  /** Transient trouble (first retry of an outage, corrupt spool tail). @defaultValue `process.emitWarning` */
  onWarn?: (message: string, error?: KimlikError) => void;
}

export interface ResolvedSpoolOptions {
  readonly dir: string;
  readonly maxBytes: number;
  readonly segmentBytes: number;
  readonly fsync: boolean;
}

export interface ResolvedKimlikOptions {
  readonly writeKey: string;
  readonly endpoint: URL;
  readonly spool: ResolvedSpoolOptions | undefined;
  readonly connections: number;
  readonly requestTimeoutMs: number;
  readonly gzipLevel: number;
  readonly maxMessageIdLength: number;
  readonly flushOnExit: boolean;
  readonly exitFlushTimeoutMs: number;
  readonly shutdownTimeoutMs: number;
  readonly onError: ((error: KimlikError) => void) | undefined;
  readonly onWarn: ((message: string, error?: KimlikError) => void) | undefined;
  readonly delivery: ResolvedDeliveryOptions;
}

export const DEFAULTS = Object.freeze({
  endpoint: 'http://127.0.0.1:8080',
  connections: DELIVERY_DEFAULTS.maxConcurrentRequests,
  requestTimeoutMs: 10_000,
  gzipLevel: 6,
  maxMessageIdLength: DEFAULT_LIMITS.maxMessageIdLength,
  flushOnExit: true,
  exitFlushTimeoutMs: 5000,
  shutdownTimeoutMs: 5000,
  spool: Object.freeze({ maxBytes: 1024 * 1024 * 1024, segmentBytes: 8 * 1024 * 1024, fsync: true }),
});

/** Every option name: the keys of `KimlikOptions`, which the README's table lists. */
export const OPTION_NAMES: ReadonlySet<string> = new Set([
  'writeKey',
  'onError',
  'onWarn',
  ...Object.keys(DEFAULTS),
  ...Object.keys(DELIVERY_DEFAULTS),
]);
const SPOOL_OPTION_NAMES: ReadonlySet<string> = new Set(['dir', ...Object.keys(DEFAULTS.spool)]);

/**
 * The last path segments of a URL that names an endpoint rather than the collector's base:
 * Segment's `path` default and its per-call paths, and PostHog's `/batch`.
 */
const ENDPOINT_PATH = /\/(?:v1\/(?:batch|import|track|identify|page|screen|group|alias)|batch)\/*$/;

function integer(name: string, value: unknown, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new InvalidOptionError(name, `expected an integer from ${min} to ${max}, got ${String(value)}`);
  }
  return value;
}

function resolveSpool(spool: SpoolOptions | undefined): ResolvedSpoolOptions | undefined {
  if (spool === undefined) return undefined;
  if (typeof spool !== 'object' || spool === null || typeof spool.dir !== 'string' || spool.dir === '') {
    throw new InvalidOptionError('spool', "write spool: { dir: '/var/lib/my-app/kimlik-spool' }");
  }
  refuseUnknownOptions(spool, SPOOL_OPTION_NAMES, 'spool.');
  const d = DEFAULTS.spool;
  const segmentBytes = integer('spool.segmentBytes', spool.segmentBytes ?? d.segmentBytes, 4096);
  return Object.freeze({
    dir: spool.dir,
    maxBytes: integer('spool.maxBytes', spool.maxBytes ?? d.maxBytes, segmentBytes * 2),
    segmentBytes,
    fsync: spool.fsync ?? d.fsync,
  });
}

/** Validates and merges options; throws `InvalidOptionError` at construction with what to write instead. */
export function resolveOptions(options: KimlikOptions): ResolvedKimlikOptions {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidOptionError(
      'options',
      "write new Kimlik({ writeKey: '…', endpoint: 'https://collector.example' })",
    );
  }
  refuseUnknownOptions(options, OPTION_NAMES);
  if (typeof options.writeKey !== 'string' || options.writeKey === '') {
    throw new InvalidOptionError('writeKey', "the source's write key is required: new Kimlik({ writeKey: 'wk_…' })");
  }
  const raw = options.endpoint ?? DEFAULTS.endpoint;
  let endpoint: URL;
  try {
    endpoint = new URL(raw);
  } catch (err) {
    throw new InvalidOptionError(
      'endpoint',
      `"${raw}" is not a URL (${(err as Error).message}); write e.g. 'https://collector.example'`,
    );
  }
  if (endpoint.protocol !== 'http:' && endpoint.protocol !== 'https:') {
    throw new InvalidOptionError('endpoint', `use an http: or https: URL, got ${endpoint.protocol}`);
  }
  // The transport appends /v1/batch to the path (a proxy's prefix may precede it).
  const endpointPath = ENDPOINT_PATH.exec(endpoint.pathname);
  if (endpointPath) {
    const base = new URL(endpoint.pathname.slice(0, endpointPath.index) || '/', endpoint).href;
    throw new InvalidOptionError(
      'endpoint',
      `"${raw}" ends in ${endpointPath[0]}, but endpoint is the collector's base URL and batches go to {endpoint}/v1/batch (this would post to ${endpoint.pathname.replace(/\/+$/, '')}/v1/batch); write endpoint: '${base.replace(/\/$/, '')}'`,
    );
  }
  if (endpoint.search !== '' || endpoint.hash !== '') {
    throw new InvalidOptionError(
      'endpoint',
      `"${raw}" has a query or fragment, which requests would not carry; write the base URL alone, e.g. '${endpoint.origin}${endpoint.pathname.replace(/\/$/, '')}'`,
    );
  }
  for (const name of ['onError', 'onWarn'] as const) {
    if (options[name] !== undefined && typeof options[name] !== 'function') {
      throw new InvalidOptionError(name, 'expected a function');
    }
  }
  const delivery = resolveDeliveryOptions(options);
  // Checked here rather than in core: the browser bundle pays for every byte of it.
  for (const name of ['flushIntervalMs', 'retryBaseMs', 'retryMaxMs'] as const) {
    if (delivery[name] > MAX_TIMER_MS) {
      throw new InvalidOptionError(
        name,
        `expected at most ${MAX_TIMER_MS} (Node runs a longer timer at once), got ${delivery[name]}`,
      );
    }
  }
  return Object.freeze({
    writeKey: options.writeKey,
    endpoint,
    spool: resolveSpool(options.spool),
    connections: integer('connections', options.connections ?? delivery.maxConcurrentRequests, 1),
    requestTimeoutMs: integer(
      'requestTimeoutMs',
      options.requestTimeoutMs ?? DEFAULTS.requestTimeoutMs,
      1,
      MAX_TIMER_MS,
    ),
    gzipLevel: integer('gzipLevel', options.gzipLevel ?? DEFAULTS.gzipLevel, 0, 9),
    maxMessageIdLength: integer(
      'maxMessageIdLength',
      options.maxMessageIdLength ?? DEFAULTS.maxMessageIdLength,
      2,
      MAX_MESSAGE_ID_LENGTH,
    ),
    flushOnExit: options.flushOnExit ?? DEFAULTS.flushOnExit,
    exitFlushTimeoutMs: integer(
      'exitFlushTimeoutMs',
      options.exitFlushTimeoutMs ?? DEFAULTS.exitFlushTimeoutMs,
      0,
      MAX_TIMER_MS,
    ),
    shutdownTimeoutMs: integer(
      'shutdownTimeoutMs',
      options.shutdownTimeoutMs ?? DEFAULTS.shutdownTimeoutMs,
      0,
      MAX_TIMER_MS,
    ),
    onError: options.onError,
    onWarn: options.onWarn,
    delivery,
  });
}
