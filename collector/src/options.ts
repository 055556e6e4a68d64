import { readFileSync } from 'node:fs';
import { DEFAULT_LIMITS, InvalidOptionError, type Limits, MAX_MESSAGE_ID_LENGTH, MAX_TIMER_MS } from '@kimlik/core';
import { exactOrigin, notAnOrigin } from './http/origins.js';
import {
  DEFAULT_BLOCKED_VALUES,
  type IdentityConfig,
  TRAIT_IDENTIFIER_TYPES,
  type TraitIdentifierType,
} from './identity/identifiers.js';

/** What a deployment may set; environment variables and the JSON config file map onto these. */
export interface CollectorOptions {
  /** TCP port. Env `PORT`. @defaultValue 8080 */
  port?: number;
  /** Interface to bind. Env `HOST`. @defaultValue '0.0.0.0' */
  host?: string;
  /** SQLite file path, or a `postgres://` URL (`?schema=name` picks the schema). Env `KIMLIK_DATABASE`. @defaultValue './data/kimlik.db' */
  database?: string;
  /** Write key of the default source; generated and stored on first start when absent. Env `KIMLIK_WRITE_KEY`. */
  writeKey?: string;
  /** Secret for the read and admin APIs; generated and stored on first start when absent. Env `KIMLIK_ADMIN_KEY`. */
  adminKey?: string;
  /** Origins allowed to send from browsers; `['*']` allows any. Env `KIMLIK_CORS_ORIGINS` (comma-separated). @defaultValue ['*'] */
  corsOrigins?: string[];
  /** Largest request body after gzip decompression. Env `KIMLIK_MAX_BODY_BYTES`. @defaultValue 512000 */
  maxBodyBytes?: number;
  /** Largest single event. Env `KIMLIK_MAX_EVENT_BYTES`. @defaultValue 32768 */
  maxEventBytes?: number;
  /** Most events in one batch. Env `KIMLIK_MAX_BATCH_EVENTS`. @defaultValue 2500 */
  maxBatchEvents?: number;
  /**
   * A `messageId` must be shorter than this many characters (Segment's limit: under 100). At most
   * 512: PostgreSQL indexes the ids, and an index entry holds at most 2 704 bytes.
   * Env `KIMLIK_MAX_MESSAGE_ID_LENGTH`. @defaultValue 100
   */
  maxMessageIdLength?: number;
  /** Events accepted but not yet committed before new requests get 429. Env `KIMLIK_MAX_QUEUED_EVENTS`. @defaultValue 50000 */
  maxQueuedEvents?: number;
  /**
   * Bytes of events (as stored, JSON) accepted but not yet committed before new requests get 429:
   * the event bound alone let large events take gigabytes. Env `KIMLIK_MAX_QUEUED_BYTES`.
   * @defaultValue 134217728 (128 MiB)
   */
  maxQueuedBytes?: number;
  /** A timestamp further ahead of receivedAt than this is clamped and flagged. Env `KIMLIK_FUTURE_TOLERANCE_MS`. @defaultValue 86400000 */
  futureToleranceMs?: number;
  /** SQLite `synchronous`: NORMAL survives a process crash, FULL also power loss. Env `KIMLIK_SQLITE_SYNCHRONOUS`. @defaultValue 'NORMAL' */
  sqliteSynchronous?: 'NORMAL' | 'FULL';
  /** PostgreSQL connections per collector process at most. Env `KIMLIK_POSTGRES_POOL_MAX`. @defaultValue 10 */
  postgresPoolMax?: number;
  /** Log level. Env `KIMLIK_LOG_LEVEL`. @defaultValue 'info' */
  logLevel?: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** Serve the demo page at `/`. Env `KIMLIK_DEMO`. @defaultValue true */
  demo?: boolean;
  /** Resolve identities into profiles. Env `KIMLIK_IDENTITY`. @defaultValue true */
  identity?: boolean;
  /** Trait keys that identify a person (`email`, `phone`). Env `KIMLIK_IDENTITY_TRAITS`. @defaultValue ['email'] */
  identityTraits?: ('email' | 'phone')[];
  /** Values never used as identifiers (case-insensitive); replaces the default list. Env `KIMLIK_BLOCKED_VALUES`. */
  blockedValues?: string[];
  /** Most identifiers one profile may hold; links past it are parked and reported. Env `KIMLIK_MAX_PROFILE_IDENTIFIERS`. @defaultValue 1000 */
  maxProfileIdentifiers?: number;
  /** Most merges one profile may take. Env `KIMLIK_MAX_PROFILE_MERGES`. @defaultValue 100 */
  maxProfileMerges?: number;
  /**
   * Most identifiers linked together (refused links count) that ingest re-resolves as one; a larger
   * cluster keeps its profiles and its new links are parked. An identifier linked to more than this
   * many is a hub: a profile of its own, walked through by no cluster. Env `KIMLIK_MAX_CLUSTER_IDENTIFIERS`.
   * @defaultValue 5000, or 5 × maxProfileIdentifiers when that is more
   */
  maxClusterIdentifiers?: number;
  /**
   * On SIGTERM, how long in-flight requests get to finish before the connections still open (one
   * that never sent a request, a body trickling in) are closed. Env `KIMLIK_DRAIN_TIMEOUT_MS`.
   * @defaultValue 10000
   */
  drainTimeoutMs?: number;
  /**
   * Longest a request body may take to arrive after its headers; past it the answer is 408
   * KIMLIK_REQUEST_TIMEOUT. Env `KIMLIK_REQUEST_TIMEOUT_MS`. @defaultValue 120000
   */
  requestTimeoutMs?: number;
  /**
   * How often the dashboard's live stream sends a keep-alive line; the dashboard reconnects when
   * two are missed. Lower it behind a proxy that closes idle connections sooner.
   * Env `KIMLIK_STREAM_HEARTBEAT_MS`. @defaultValue 15000
   */
  streamHeartbeatMs?: number;
}

export interface ResolvedCollectorOptions
  extends Readonly<
    Required<Omit<CollectorOptions, 'writeKey' | 'adminKey' | 'corsOrigins' | 'identityTraits' | 'blockedValues'>>
  > {
  readonly writeKey: string | undefined;
  readonly adminKey: string | undefined;
  readonly corsOrigins: readonly string[];
  readonly identityConfig: IdentityConfig;
  readonly limits: Readonly<Limits>;
}

export const DEFAULTS = Object.freeze({
  port: 8080,
  host: '0.0.0.0',
  database: './data/kimlik.db',
  corsOrigins: Object.freeze(['*']),
  maxBodyBytes: DEFAULT_LIMITS.maxBodyBytes,
  maxEventBytes: DEFAULT_LIMITS.maxEventBytes,
  maxBatchEvents: DEFAULT_LIMITS.maxBatchEvents,
  maxMessageIdLength: DEFAULT_LIMITS.maxMessageIdLength,
  maxQueuedEvents: 50_000,
  maxQueuedBytes: 128 * 1024 * 1024,
  futureToleranceMs: 24 * 60 * 60 * 1000,
  sqliteSynchronous: 'NORMAL' as const,
  postgresPoolMax: 10,
  logLevel: 'info' as const,
  demo: true,
  identity: true,
  identityTraits: Object.freeze(['email'] as const),
  blockedValues: DEFAULT_BLOCKED_VALUES,
  maxProfileIdentifiers: 1000,
  maxProfileMerges: 100,
  maxClusterIdentifiers: 5000,
  drainTimeoutMs: 10_000,
  requestTimeoutMs: 120_000,
  streamHeartbeatMs: 15_000,
});

/** Environment variable for each option; the README's configuration table is this list. */
export const ENV_NAMES: Readonly<Record<keyof CollectorOptions, string>> = Object.freeze({
  port: 'PORT',
  host: 'HOST',
  database: 'KIMLIK_DATABASE',
  writeKey: 'KIMLIK_WRITE_KEY',
  adminKey: 'KIMLIK_ADMIN_KEY',
  corsOrigins: 'KIMLIK_CORS_ORIGINS',
  maxBodyBytes: 'KIMLIK_MAX_BODY_BYTES',
  maxEventBytes: 'KIMLIK_MAX_EVENT_BYTES',
  maxBatchEvents: 'KIMLIK_MAX_BATCH_EVENTS',
  maxMessageIdLength: 'KIMLIK_MAX_MESSAGE_ID_LENGTH',
  maxQueuedEvents: 'KIMLIK_MAX_QUEUED_EVENTS',
  maxQueuedBytes: 'KIMLIK_MAX_QUEUED_BYTES',
  futureToleranceMs: 'KIMLIK_FUTURE_TOLERANCE_MS',
  sqliteSynchronous: 'KIMLIK_SQLITE_SYNCHRONOUS',
  postgresPoolMax: 'KIMLIK_POSTGRES_POOL_MAX',
  logLevel: 'KIMLIK_LOG_LEVEL',
  demo: 'KIMLIK_DEMO',
  identity: 'KIMLIK_IDENTITY',
  identityTraits: 'KIMLIK_IDENTITY_TRAITS',
  blockedValues: 'KIMLIK_BLOCKED_VALUES',
  maxProfileIdentifiers: 'KIMLIK_MAX_PROFILE_IDENTIFIERS',
  maxProfileMerges: 'KIMLIK_MAX_PROFILE_MERGES',
  maxClusterIdentifiers: 'KIMLIK_MAX_CLUSTER_IDENTIFIERS',
  drainTimeoutMs: 'KIMLIK_DRAIN_TIMEOUT_MS',
  requestTimeoutMs: 'KIMLIK_REQUEST_TIMEOUT_MS',
  streamHeartbeatMs: 'KIMLIK_STREAM_HEARTBEAT_MS',
});

const NUMBER_OPTIONS = [
  'port',
  'maxBodyBytes',
  'maxEventBytes',
  'maxBatchEvents',
  'maxMessageIdLength',
  'maxQueuedEvents',
  'maxQueuedBytes',
  'futureToleranceMs',
  'maxProfileIdentifiers',
  'maxProfileMerges',
  'maxClusterIdentifiers',
  'postgresPoolMax',
  'drainTimeoutMs',
  'requestTimeoutMs',
  'streamHeartbeatMs',
] as const;
const LIST_OPTIONS = ['corsOrigins', 'identityTraits', 'blockedValues'] as const;
const LIST_EXAMPLES = {
  corsOrigins: '["https://shop.example", "https://blog.example"]',
  identityTraits: '["email", "phone"]',
  blockedValues: '["test", "nobody"]',
};
const BOOLEAN_OPTIONS = ['demo', 'identity'] as const;
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** Reads options from the environment, with `KIMLIK_CONFIG` naming an optional JSON file under it. */
export function optionsFromEnv(env: NodeJS.ProcessEnv): CollectorOptions {
  const fromFile: CollectorOptions = env.KIMLIK_CONFIG ? readConfigFile(env.KIMLIK_CONFIG) : {};
  const fromEnv: Record<string, unknown> = {};
  for (const [key, name] of Object.entries(ENV_NAMES)) {
    const raw = env[name];
    if (raw === undefined || raw === '') continue;
    // Values that do not read cleanly stay text, for resolveOptions to name in its refusal.
    if ((NUMBER_OPTIONS as readonly string[]).includes(key)) fromEnv[key] = /^\d{1,15}$/.test(raw) ? Number(raw) : raw;
    else if ((LIST_OPTIONS as readonly string[]).includes(key)) fromEnv[key] = raw.split(',').map((s) => s.trim());
    else if ((BOOLEAN_OPTIONS as readonly string[]).includes(key))
      fromEnv[key] = /^(1|true|yes|on)$/i.test(raw) ? true : /^(0|false|no|off)$/i.test(raw) ? false : raw;
    else fromEnv[key] = raw;
  }
  return { ...fromFile, ...(fromEnv as CollectorOptions) };
}

function readConfigFile(path: string): CollectorOptions {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (cause) {
    throw new InvalidOptionError('KIMLIK_CONFIG', `cannot read ${path} as JSON (${(cause as Error).message})`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new InvalidOptionError('KIMLIK_CONFIG', `${path} must hold a JSON object of options`);
  }
  // A misspelt key would be ignored silently (a port left at its default): named instead.
  for (const key of Object.keys(parsed)) {
    // Own keys only: "constructor" or "toString" are in every object, not options.
    if (Object.hasOwn(ENV_NAMES, key)) continue;
    const meant = Object.entries(ENV_NAMES).find(([k, env]) => env === key || k.toLowerCase() === key.toLowerCase());
    throw new InvalidOptionError(
      'KIMLIK_CONFIG',
      `${path}: ${JSON.stringify(key)} is not an option; ${meant ? `write "${meant[0]}"` : `the options are ${Object.keys(ENV_NAMES).join(', ')}`}`,
    );
  }
  return parsed as CollectorOptions;
}

/** Options that set timers: Node runs a timer longer than 2^31 - 1 ms after 1 ms instead. */
const TIMER_OPTIONS = ['drainTimeoutMs', 'requestTimeoutMs', 'streamHeartbeatMs'] as const;

function positiveInt(name: string, value: number): number {
  if (!Number.isInteger(value) || value <= 0) {
    throw new InvalidOptionError(name, `expected a positive whole number, got ${JSON.stringify(value)}`);
  }
  return value;
}

/** Validates, applies DEFAULTS, freezes. Throws InvalidOptionError saying what to write instead. */
export function resolveOptions(options: CollectorOptions = {}): ResolvedCollectorOptions {
  const given = stripUndefined(options);
  const o = { ...DEFAULTS, ...given };
  // Unset, it grows with the profile cap: a cluster holds at least a few whole profiles.
  if (given.maxClusterIdentifiers === undefined && Number.isInteger(o.maxProfileIdentifiers)) {
    o.maxClusterIdentifiers = Math.max(DEFAULTS.maxClusterIdentifiers, 5 * o.maxProfileIdentifiers);
  }
  if (!Number.isInteger(o.port) || o.port < 0 || o.port > 65535) {
    throw new InvalidOptionError('port', `expected 0-65535, got ${JSON.stringify(o.port)}`);
  }
  for (const k of NUMBER_OPTIONS) if (k !== 'port') positiveInt(k, o[k]);
  for (const k of TIMER_OPTIONS) {
    if (o[k] > MAX_TIMER_MS) {
      throw new InvalidOptionError(
        k,
        `at most ${MAX_TIMER_MS} (about 24.8 days; Node runs a longer timer at once), got ${o[k]}`,
      );
    }
  }
  if (o.maxMessageIdLength > MAX_MESSAGE_ID_LENGTH) {
    throw new InvalidOptionError(
      'maxMessageIdLength',
      `at most ${MAX_MESSAGE_ID_LENGTH} (PostgreSQL indexes message ids), got ${o.maxMessageIdLength}`,
    );
  }
  if (o.sqliteSynchronous !== 'NORMAL' && o.sqliteSynchronous !== 'FULL') {
    throw new InvalidOptionError('sqliteSynchronous', 'write NORMAL or FULL');
  }
  if (!LOG_LEVELS.includes(o.logLevel)) {
    throw new InvalidOptionError('logLevel', `write one of ${LOG_LEVELS.join(', ')}`);
  }
  if (typeof o.database !== 'string' || o.database === '') {
    throw new InvalidOptionError(
      'database',
      'write a file path such as ./data/kimlik.db, or a URL such as postgres://user:pass@host:5432/kimlik',
    );
  }
  // The writer and checkpoint threads open the file by its name: an in-memory database would be
  // a new, empty one in each (it failed with "no such table").
  if (o.database === ':memory:' || /^file:.*(:memory:|[?&]mode=memory)/i.test(o.database)) {
    throw new InvalidOptionError('database', 'a SQLite database in memory is not supported; write a file path');
  }
  if (/^postgres(ql)?:/i.test(o.database) && !URL.canParse(o.database)) {
    throw new InvalidOptionError('database', 'write a PostgreSQL URL such as postgres://user:pass@host:5432/kimlik');
  }
  for (const key of ['writeKey', 'adminKey'] as const) {
    const v = options[key];
    if (v !== undefined && (typeof v !== 'string' || v.length < 8 || /[\s:]/.test(v))) {
      throw new InvalidOptionError(key, 'write at least 8 characters without spaces or colons');
    }
  }
  // The write key is public in every browser: as the admin key it would read and erase everything.
  if (options.adminKey !== undefined && options.adminKey === options.writeKey) {
    throw new InvalidOptionError('adminKey', 'must differ from the write key, which every browser can read');
  }
  for (const key of BOOLEAN_OPTIONS) {
    if (typeof o[key] !== 'boolean')
      throw new InvalidOptionError(key, `write true or false; got ${JSON.stringify(o[key])}`);
  }
  for (const key of LIST_OPTIONS) {
    if (!Array.isArray(o[key]))
      throw new InvalidOptionError(key, `write a list, e.g. ${LIST_EXAMPLES[key]}; got ${JSON.stringify(o[key])}`);
  }
  const corsOrigins = Object.freeze([...(o.corsOrigins as string[])].filter(Boolean));
  for (const origin of corsOrigins) {
    if (origin !== '*' && exactOrigin(origin) === null)
      throw new InvalidOptionError('corsOrigins', notAnOrigin(origin));
  }
  const traits = [...(o.identityTraits as string[])].filter(Boolean);
  for (const t of traits) {
    if (!(TRAIT_IDENTIFIER_TYPES as readonly string[]).includes(t)) {
      throw new InvalidOptionError('identityTraits', `write a list of ${TRAIT_IDENTIFIER_TYPES.join(', ')}; got ${t}`);
    }
  }
  if (!Array.isArray(o.blockedValues) || o.blockedValues.some((v) => typeof v !== 'string')) {
    throw new InvalidOptionError('blockedValues', 'write a list of strings');
  }
  const identityConfig: IdentityConfig = Object.freeze({
    traitIdentifiers: Object.freeze(traits) as readonly TraitIdentifierType[],
    blockedValues: new Set(o.blockedValues.map((v) => v.trim().toLowerCase())),
  });
  const { identityTraits: _t, blockedValues: _b, ...rest } = o;
  return Object.freeze({
    ...rest,
    writeKey: options.writeKey,
    adminKey: options.adminKey,
    corsOrigins,
    identityConfig,
    limits: Object.freeze({
      ...DEFAULT_LIMITS,
      maxBodyBytes: o.maxBodyBytes,
      maxEventBytes: o.maxEventBytes,
      maxBatchEvents: o.maxBatchEvents,
      maxMessageIdLength: o.maxMessageIdLength,
    }),
  });
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
