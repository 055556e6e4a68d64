import type { Rejection } from '../protocol.js';
import type { EventBuffer } from './event-buffer.js';

/** One event as a storage port keeps it: the serialized form, so it is stringified once. */
export interface PersistedEvent {
  messageId: string;
  /** `JSON.stringify` of the WireEvent, exactly as it goes into a batch. */
  json: string;
}

/**
 * Where queued events live until the collector acknowledges them: a disk spool in Node,
 * IndexedDB in the browser, nothing (memory only) by default.
 *
 * Methods may be synchronous (the Node spool writes before `track()` returns) or return a
 * promise (IndexedDB); the engine reports a rejected promise through `onError` and keeps the
 * event in memory either way.
 */
export interface QueueStorage {
  /** True when events survive a restart; shutdown reports "kept" instead of "dropped" for them. */
  readonly persistent: boolean;
  /** Events left unacknowledged by an earlier process, oldest first. Called once by `start()`. */
  load(): readonly PersistedEvent[] | Promise<readonly PersistedEvent[]>;
  /** Stores one event before the engine queues it. */
  append(messageId: string, json: string): void | Promise<void>;
  /** Forgets events that were acknowledged, rejected for good or dropped. */
  remove(messageIds: readonly string[]): void | Promise<void>;
  /** Makes everything durable and releases resources; called by `DeliveryEngine.stop()`. */
  close?(): void | Promise<void>;
  /**
   * Set by storages that can hold more events than memory should (the Node disk spool): returns
   * `new PagerOverflow(pager)`, the engine's side of a `QueuePager`. Called once by the engine.
   */
  overflow?(): Overflow;
}

/**
 * The engine's view of events that wait on storage only (see `QueuePager`), numbered like queued
 * events. Implemented by `PagerOverflow`, which only storages that page import.
 */
export interface Overflow {
  /** Events on storage only; the engine sets 0 when it stops. */
  count: number;
  /** Seq of the oldest of them (while `count` > 0). */
  readonly head: number;
  /** For `start()`: the backlog an earlier process left, numbered up to 0; returns how many. */
  start(): number;
  /**
   * For `enqueue()`: takes the event, as `seq`, when memory is `full` or older events wait on
   * storage. True when it did, false when the event must be dropped, undefined when memory takes it.
   */
  offer(messageId: string, json: string, full: boolean, seq: number): boolean | undefined;
  /** Moves waiting events into `queue`, oldest first, within the bounds; the last seq moved, if any. */
  pageIn(queue: EventBuffer, maxEvents: number, maxBytes: number): number | undefined;
}

/**
 * Storage as the queue's overflow. While memory is at `maxQueueEvents`/`maxQueueBytes` (and
 * until everything spilled is paged back), the engine `spill`s new events instead of queueing
 * them, and pages them back, oldest first, as memory frees up. With a pager, `load()` returns
 * nothing: an earlier process's events are the `backlog`, paged in the same way, so a restart
 * holds no more in memory than the bounds. Synchronous only.
 */
export interface QueuePager {
  /** Events stored but not handed to the engine; read once by `start()`. */
  readonly backlog: number;
  /**
   * Stores an event that stays on storage only. False when storage is full or failing (it reports
   * why): the queue-full policy then applies if nothing waits on storage, else the event is dropped.
   */
  spill(messageId: string, json: string): boolean;
  /** The oldest events not yet handed over, up to these bounds (at least one if `maxEvents` > 0 and any are left). */
  next(maxEvents: number, maxBytes: number): readonly PersistedEvent[];
}

/**
 * One `/v1/batch` request as the engine hands it to a transport. The engine builds it when the
 * transport first reads `body`, `bytes` or `messageIds` (so `sentAt` is the time of that read):
 * until then it counts as not sent, and the queue bound may still take its oldest events. A
 * transport that waits before sending (offline, no consent) reads it only when it sends. If the
 * bound took every event and none are queued to take their place, the read throws a
 * `DeliveryError` (QUEUE_FULL) and the engine ignores that send's outcome.
 */
export interface OutgoingBatch {
  /** The complete JSON body: `{"batch":[…],"sentAt":"…",…bodyFields}` (decoded from `bytes` on first read, so read it before `send()` settles). */
  readonly body: string;
  /**
   * The same body as UTF-8 bytes, as the engine built it; cheaper to send or compress. The
   * engine reuses the buffer once `send()` settles: copy it if it must outlive the request.
   */
  readonly bytes: Uint8Array;
  /** Events in the batch, in body order. */
  readonly messageIds: readonly string[];
  /** 0 for the first attempt of this batch. */
  readonly attempt: number;
}

/** What a transport learnt from an answer the collector gave about individual events. */
export interface TransportResult {
  /**
   * Events the collector refused (by index in the batch); every other event counts as stored.
   * A 400 that refuses every event with per-event detail is a result too, not an error.
   */
  rejected: readonly Rejection[];
}

/**
 * Sends one batch. Resolves with the collector's per-event verdict, or rejects with a
 * `TransportError`: `retryable` for network errors, 408, 429 and 5xx (with `retryAfterMs` from
 * Retry-After); not retryable for other 4xx, with `status`.
 */
export interface Transport {
  send(batch: OutgoingBatch): Promise<TransportResult>;
}

/**
 * Timers, injectable so tests use fake time and the Node SDK can `unref()` them.
 * `keepAlive` is false for timers that must not hold a process open (flush interval, retries
 * nobody awaits) and true while a caller awaits `flush()`.
 */
export interface Scheduler {
  setTimeout(callback: () => void, ms: number, keepAlive: boolean): unknown;
  clearTimeout(handle: unknown): void;
  now(): number;
  /**
   * Runs `callback` once the current tick's promise callbacks have run (Node: `setImmediate`), so
   * the receipts awaited in one tick ask for one send. @defaultValue `setTimeout(callback, 0)`
   */
  soon?(callback: () => void): void;
}

// The timer globals every runtime has, declared here so core needs neither DOM nor Node types.
declare function setTimeout(callback: () => void, ms: number): unknown;
declare function clearTimeout(handle: unknown): void;

/**
 * Longest wait a timer can run: past 2^31 - 1 ms runtimes fire it after 1 ms instead, so a longer
 * wait (`timeoutMs: Infinity`, "as long as it takes") arms no timer at all.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** The global timers, looked up at call time so `vi.useFakeTimers()` applies. */
export const globalScheduler: Scheduler = {
  setTimeout: (callback, ms) => (ms > MAX_TIMER_MS ? undefined : setTimeout(callback, ms)),
  clearTimeout: (handle) => clearTimeout(handle),
  now: () => Date.now(),
};
