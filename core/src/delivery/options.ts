import type { BackoffOptions } from '../backoff.js';
import { MAX_BATCH_EVENTS, MAX_EVENT_BYTES } from '../limits.js';
import { checkNumber, checkOneOf } from '../option-checks.js';

/** What the queue does when it holds `maxQueueEvents` or `maxQueueBytes`. */
export type QueueFullPolicy = 'drop-oldest' | 'backpressure';

/**
 * Tuning every queue of events has: batching, bounds and retries. The browser's send queue takes
 * these; the Node SDK's `DeliveryEngine` takes `DeliveryOptions`, which add concurrency and a policy.
 */
export interface QueueOptions {
  /** Queued events that trigger a request without waiting for the interval. @defaultValue 1000 */
  flushAt?: number;
  /** Longest an event waits in the queue before a (partial) batch is sent. @defaultValue 1000 */
  flushIntervalMs?: number;
  /** Most events in one request (the collector's limit). @defaultValue 2500 */
  maxBatchEvents?: number;
  /** Largest request body before compression; below the collector's 512000-byte limit. @defaultValue 500000 */
  maxBatchBytes?: number;
  /** Largest single serialized event (Segment's 32 KB). @defaultValue 32768 */
  maxEventBytes?: number;
  /** Events held in memory (queued and in flight). @defaultValue 200000 */
  maxQueueEvents?: number;
  /** Serialized bytes held in memory (queued and in flight). @defaultValue 67108864 (64 MiB) */
  maxQueueBytes?: number;
  /** Retries of one batch on network errors, 408, 429 and 5xx; Infinity retries until stopped. @defaultValue Infinity */
  maxRetries?: number;
  /** First retry delay; doubles per consecutive failure, with full jitter. @defaultValue 200 */
  retryBaseMs?: number;
  /** Ceiling of one retry delay (Retry-After may ask for longer and is honoured). @defaultValue 30000 */
  retryMaxMs?: number;
}

/** Tuning of the delivery engine; the Node SDK exposes these among its own options. */
export interface DeliveryOptions extends QueueOptions {
  /** Requests in flight at once. @defaultValue 4 */
  maxConcurrentRequests?: number;
  /**
   * `'drop-oldest'`: a full queue drops its oldest queued event, counted and reported.
   * `'backpressure'`: nothing is dropped until twice the bounds; callers pace themselves by
   * awaiting the promise each `track()` returns (it settles when the event is delivered).
   * @defaultValue 'drop-oldest'
   */
  queueFullPolicy?: QueueFullPolicy;
}

export interface ResolvedQueueOptions extends Readonly<Required<QueueOptions>> {
  readonly backoff: Readonly<BackoffOptions>;
}

export interface ResolvedDeliveryOptions extends ResolvedQueueOptions, Readonly<Required<DeliveryOptions>> {}

export const DELIVERY_DEFAULTS: Readonly<Required<DeliveryOptions>> = Object.freeze({
  flushAt: 1000,
  flushIntervalMs: 1000,
  maxBatchEvents: MAX_BATCH_EVENTS,
  maxBatchBytes: 500_000,
  maxEventBytes: MAX_EVENT_BYTES,
  maxConcurrentRequests: 4,
  maxQueueEvents: 200_000,
  maxQueueBytes: 64 * 1024 * 1024,
  queueFullPolicy: 'drop-oldest',
  maxRetries: Number.POSITIVE_INFINITY,
  retryBaseMs: 200,
  retryMaxMs: 30_000,
});

const POSITIVE_INTEGERS = ['flushAt', 'maxBatchEvents', 'maxEventBytes', 'maxQueueEvents', 'maxQueueBytes'] as const;

/** Validates and merges delivery options; throws `InvalidOptionError` saying what to write. */
export function resolveDeliveryOptions(options: DeliveryOptions = {}): ResolvedDeliveryOptions {
  const o: Required<DeliveryOptions> = { ...DELIVERY_DEFAULTS };
  for (const [key, value] of Object.entries(options)) {
    if (value !== undefined && key in DELIVERY_DEFAULTS) (o as Record<string, unknown>)[key] = value;
  }
  return checkDeliveryOptions(o);
}

/**
 * Validates queue options already merged over a platform's own defaults (every option set), so
 * the browser bundle carries its defaults and not `DELIVERY_DEFAULTS` as well. Other keys of `o`
 * pass through.
 */
export function checkQueueOptions<T extends Required<QueueOptions>>(o: T): T & ResolvedQueueOptions {
  const check = (key: keyof QueueOptions, min: number, integer?: boolean, unbounded?: boolean) =>
    checkNumber(o as unknown as Record<string, unknown>, key, min, integer, unbounded);
  for (const key of POSITIVE_INTEGERS) check(key, 1, true);
  // A batch holds at least one event and its envelope.
  check('maxBatchBytes', o.maxEventBytes + 128, true);
  check('flushIntervalMs', 0);
  // 0 would retry an outage in a tight loop: every delay of the backoff is a multiple of it.
  check('retryBaseMs', 1);
  check('retryMaxMs', o.retryBaseMs);
  check('maxRetries', 0, true, true);
  return Object.freeze({ ...o, backoff: Object.freeze({ baseMs: o.retryBaseMs, maxMs: o.retryMaxMs }) });
}

/** `checkQueueOptions` and the engine's own: concurrency and the queue-full policy. */
export function checkDeliveryOptions(o: Required<DeliveryOptions>): ResolvedDeliveryOptions {
  checkNumber(o as unknown as Record<string, unknown>, 'maxConcurrentRequests', 1, true);
  checkOneOf(o as unknown as Record<string, unknown>, 'queueFullPolicy', ['drop-oldest', 'backpressure']);
  return checkQueueOptions(o);
}
