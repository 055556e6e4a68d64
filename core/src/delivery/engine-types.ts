import type { KimlikError } from '../errors.js';
import type { EventBufferFactory } from './event-buffer.js';
import type { ReceiptsFactory } from './outcome-book.js';
import type { QueueStorage, Scheduler, Transport } from './ports.js';

/** Everything platform-specific the engine needs, injected by the SDK. */
export interface DeliveryPorts<Receipt = void> {
  transport: Transport;
  /** @defaultValue a `MemoryStorage` */
  storage?: QueueStorage;
  /**
   * Where queued events are held: `packedEventBuffer` for large bursts (no JS object per event).
   * @defaultValue arrayEventBuffer (smallest code)
   */
  events?: EventBufferFactory;
  /**
   * What `enqueue()` returns: `outcomeBook` for an awaitable receipt per event.
   * @defaultValue none: `enqueue()` returns undefined
   */
  receipts?: ReceiptsFactory<Receipt>;
  /** @defaultValue the global timers */
  scheduler?: Scheduler;
  /** Source of jitter; injectable for deterministic tests. @defaultValue Math.random */
  random?: () => number;
  /** Fields added to every batch body besides `batch` and `sentAt` (e.g. `{writeKey}` for sendBeacon). */
  bodyFields?: Record<string, unknown>;
  /** Events that will not be delivered, and storage failures. Never throws into the host. */
  onError?: (error: KimlikError) => void;
  /** Transient trouble (a retry after a network error or 5xx), reported once per outage. */
  onWarn?: (message: string, error?: KimlikError) => void;
}

/** Settles when every event queued before the call is acknowledged or failed for good, or at the timeout. */
export interface FlushResult {
  /** Events queued before the call that are still unacknowledged (0 unless timed out). */
  pending: number;
  timedOut: boolean;
}

export interface StopResult extends FlushResult {
  /** Unacknowledged events the storage keeps for the next process. */
  persisted: number;
  /** Unacknowledged events lost because the storage is not persistent. */
  dropped: number;
}

export interface DeliveryStats {
  enqueued: number;
  delivered: number;
  rejected: number;
  dropped: number;
  retries: number;
  queued: number;
  inFlight: number;
}
