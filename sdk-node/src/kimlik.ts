import {
  DELIVERY_ERROR_CODES,
  DeliveryEngine,
  DeliveryError,
  type DeliveryReceipt,
  type DeliveryStats,
  type EventType,
  type FlushResult,
  type KimlikError,
  packedEventBuffer,
  QueuedEvent,
} from '@kimlik/core';
import { awaitedReceipts } from './awaited-receipts.js';
import { buildEvent } from './event-builder.js';
import { registerExitFlush, unregisterExitFlush } from './exit-flush.js';
import type {
  AliasMessage,
  GroupMessage,
  IdentifyMessage,
  PageMessage,
  ScreenMessage,
  TrackMessage,
} from './messages.js';
import { nodeScheduler } from './node-scheduler.js';
import { type KimlikOptions, type ResolvedKimlikOptions, resolveOptions } from './options.js';
import { DiskSpool } from './spool/disk-spool.js';
import { HttpTransport } from './transport.js';
import { defaultOnError, defaultOnWarn, tellHeldErrors } from './warnings.js';

/** Outside the class, so the closure cannot hold the client (which would never be collected). */
function closer(transport: HttpTransport): () => void {
  return () => {
    void transport.destroy();
  };
}

/** What `shutdown()` reports. */
export interface ShutdownResult {
  /** True when the timeout cut the final flush short. */
  timedOut: boolean;
  /** Unacknowledged events kept in the spool for the next process with the same `spool.dir`. */
  spooled: number;
  /** Unacknowledged events lost because there is no spool. */
  dropped: number;
}

/**
 * What `track()` and the other calls return: `await` it for the event's outcome (it resolves,
 * never rejects; the process stays alive until then) or ignore it. `messageId` is available at once.
 */
export type DeliveryPromise = DeliveryReceipt;

/**
 * The Node SDK client. Methods never throw after construction: invalid events, rejections and
 * drops go to `onError` and resolve the event's promise with `delivered: false`.
 */
export class Kimlik {
  readonly options: ResolvedKimlikOptions;
  private readonly engine: DeliveryEngine<QueuedEvent>;
  private readonly transport: HttpTransport;
  private readonly spool: DiskSpool | undefined;
  private readonly report: (error: KimlikError) => void;
  private shutdownPromise: Promise<ShutdownResult> | undefined;
  private exitFlush: Promise<FlushResult> | undefined;
  private exitFlushEnqueued = -1;

  constructor(options: KimlikOptions) {
    this.options = resolveOptions(options);
    const o = this.options;
    const onWarn = o.onWarn ?? defaultOnWarn;
    this.report = o.onError ?? defaultOnError;
    this.transport = new HttpTransport({
      endpoint: o.endpoint,
      writeKey: o.writeKey,
      connections: o.connections,
      requestTimeoutMs: o.requestTimeoutMs,
      gzipLevel: o.gzipLevel,
    });
    this.spool = o.spool ? new DiskSpool(o.spool, onWarn) : undefined;
    this.engine = new DeliveryEngine(o.delivery, {
      transport: this.transport,
      storage: this.spool,
      // Bursts of 100 000 events: packed bytes instead of a JS object per queued event.
      events: packedEventBuffer,
      receipts: awaitedReceipts(() => this.holdDelivery()),
      scheduler: nodeScheduler,
      onError: this.report,
      onWarn,
    });
    // The disk spool loads synchronously, so restored events are queued before any new one.
    this.engine.start().then(undefined, (err: unknown) => onWarn(`restoring the spool failed: ${String(err)}`));
    // Keyed by the engine, which its timers and requests hold while it has work to flush. A client
    // dropped without shutdown() closes its idle keep-alive connections once collected.
    registerExitFlush(this.engine, o.flushOnExit ? this.onBeforeExit : undefined, closer(this.transport));
  }

  track(message: TrackMessage): DeliveryPromise {
    return this.enqueue('track', message);
  }
  identify(message: IdentifyMessage): DeliveryPromise {
    return this.enqueue('identify', message);
  }
  page(message: PageMessage): DeliveryPromise {
    return this.enqueue('page', message);
  }
  screen(message: ScreenMessage): DeliveryPromise {
    return this.enqueue('screen', message);
  }
  group(message: GroupMessage): DeliveryPromise {
    return this.enqueue('group', message);
  }
  alias(message: AliasMessage): DeliveryPromise {
    return this.enqueue('alias', message);
  }

  /**
   * Resolves when every event tracked so far, including requests in flight, is acknowledged or
   * failed for good. During a collector outage it waits (retries continue); pass `timeoutMs` to
   * bound it — the result then says how many events are still pending.
   */
  flush(options: { timeoutMs?: number } = {}): Promise<FlushResult> {
    const release = this.transport.hold();
    const flushing = this.engine.flush(options);
    flushing.then(release, release);
    return flushing;
  }

  /**
   * Flushes for at most `timeoutMs` (independent of the flush interval), then stops: connections
   * closed, spool synced and unlocked. Never hangs past the timeout; events still unacknowledged
   * stay in the spool (reported as `spooled`) or are lost without one (`dropped`).
   */
  shutdown(options: { timeoutMs?: number } = {}): Promise<ShutdownResult> {
    this.shutdownPromise ??= this.stop(options.timeoutMs ?? this.options.shutdownTimeoutMs);
    return this.shutdownPromise;
  }

  /** Counters since construction, plus what is queued and in flight now. */
  stats(): DeliveryStats & { spooled: number } {
    return { ...this.engine.getStats(), spooled: this.spool?.liveEvents ?? 0 };
  }

  /** Someone awaits an outcome: retries and requests hold the process until the release. */
  private holdDelivery(): () => void {
    const releaseEngine = this.engine.hold();
    const releaseTransport = this.transport.hold();
    return () => {
      releaseEngine();
      releaseTransport();
    };
  }

  private async stop(timeoutMs: number): Promise<ShutdownResult> {
    const deadline = Date.now() + timeoutMs;
    unregisterExitFlush(this.engine);
    const release = this.transport.hold();
    const result = await this.engine.stop({ timeoutMs });
    // Requests still in flight (past the timeout, or for events tracked during the shutdown, which
    // the stop counted as unacknowledged) get what is left of the timeout, then are aborted.
    const closed = await this.transport.closeWithin(result.timedOut ? 0 : deadline - Date.now());
    release();
    // The default error handler's held-back errors (what this stop just reported among them).
    if (this.report === defaultOnError) tellHeldErrors();
    return { timedOut: result.timedOut || !closed, spooled: result.persisted, dropped: result.dropped };
  }

  private enqueue(type: EventType, message: unknown): DeliveryPromise {
    const built = buildEvent(type, message, Date.now(), this.options.maxMessageIdLength);
    if (built.ok) return this.engine.enqueue(built.messageId, built.json);
    const refused = new QueuedEvent(0, built.messageId);
    const error = new DeliveryError(DELIVERY_ERROR_CODES.INVALID_EVENT, `${type} event not queued: ${built.reason}`, {
      messageIds: [built.messageId],
      reason: built.code,
    });
    refused.settle(false, error);
    this.tell(error);
    return refused;
  }

  /** As the engine does: a throwing onError must not throw out of track() (or the exit flush). */
  private tell(error: KimlikError): void {
    try {
      this.report(error);
    } catch (err) {
      (this.options.onWarn ?? defaultOnWarn)(`onError threw: ${(err as Error)?.message ?? String(err)}`);
    }
  }

  /**
   * `beforeExit` fires when the event loop is empty: the process tracked and may be about to end
   * without flushing. The flush's timeout timer keeps the loop alive up to `exitFlushTimeoutMs`;
   * it runs again only if new events arrived since, so an outage cannot keep the process forever.
   */
  private readonly onBeforeExit = (): void => {
    if (this.exitFlush || this.shutdownPromise) return;
    const stats = this.engine.getStats();
    if (stats.queued + stats.inFlight === 0 || stats.enqueued === this.exitFlushEnqueued) return;
    this.exitFlushEnqueued = stats.enqueued;
    this.exitFlush = this.engine.flush({ timeoutMs: this.options.exitFlushTimeoutMs });
    this.exitFlush.then((result) => {
      this.exitFlush = undefined;
      if (result.timedOut && !this.shutdownPromise) this.exitFlushTimedOut();
    }, undefined);
  };

  /**
   * Not a stop: beforeExit listeners may schedule more work and the process goes on (AWS Lambda's
   * runtime for callback-style handlers does), so the events are neither settled nor counted as
   * dropped, and are retried if it does. The open request is aborted (a collector that never
   * finishes answering would hold the process); the report names what is lost if it ends now.
   */
  private exitFlushTimedOut(): void {
    this.transport.abort();
    const { messageIds, onStorageOnly, unstored } = this.engine.unacknowledged();
    const count = messageIds.length + onStorageOnly;
    if (count === 0) return;
    const kept = this.spool
      ? `kept in the spool${unstored ? `, except ${unstored} whose write failed (lost if it ends now)` : ''}`
      : 'lost if it ends now (no spool)';
    this.tell(
      new DeliveryError(
        DELIVERY_ERROR_CODES.STOPPED,
        `process exiting after ${this.options.exitFlushTimeoutMs} ms: ${count} events unacknowledged${onStorageOnly ? ` (${onStorageOnly} on disk only, not named)` : ''}, ${kept}; delivery goes on if it does not`,
        { messageIds },
      ),
    );
    // The default handler may hold it back (rate limit) on an unref'd timer the exit would cut.
    if (this.report === defaultOnError) tellHeldErrors();
  }
}
