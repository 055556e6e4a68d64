import {
  checkEventSize,
  type EventType,
  type JsonObject,
  type Limits,
  type Rejection,
  validateEvent,
} from '@kimlik/core';
import { HttpError } from '../http/errors.js';
import type { IdentityConfig } from '../identity/identifiers.js';
import type { Metrics } from '../metrics.js';
import type { EventRow, Store } from '../store/store.js';
import { enrichEvent } from './enrich.js';
import { LiveFeed, type LiveItem } from './live-feed.js';

export interface IngestResult {
  accepted: number;
  duplicates: number;
  /** Dropped because they carry an identifier of an erased profile (GDPR); never stored. */
  suppressed: number;
  rejected: Rejection[];
}

export interface IngestServiceOptions {
  limits: Readonly<Limits>;
  maxQueuedEvents: number;
  futureToleranceMs: number;
  identity: IdentityConfig;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Validates, enriches and commits the events of one request. A bad event is rejected alone with
 * its index and reason; the rest is stored. Resolves only after the commit.
 */
export class IngestService {
  constructor(
    private readonly store: Store,
    private readonly metrics: Metrics,
    private readonly options: IngestServiceOptions,
    private readonly feed: LiveFeed = new LiveFeed(),
  ) {}

  /** `POST /v1/batch`. */
  async ingestBatch(body: unknown, sourceId: number): Promise<IngestResult> {
    if (!isObject(body)) throw new HttpError('KIMLIK_BODY_NOT_BATCH');
    const batch = body.batch;
    if (!Array.isArray(batch)) {
      throw new HttpError('KIMLIK_BODY_NOT_BATCH', 'The body must be a JSON object with a "batch" array of events');
    }
    if (batch.length > this.options.limits.maxBatchEvents) {
      throw new HttpError(
        'KIMLIK_BATCH_TOO_MANY_EVENTS',
        `The batch holds ${batch.length} events; the limit is ${this.options.limits.maxBatchEvents} per batch`,
        { limit: this.options.limits.maxBatchEvents },
      );
    }
    const sentAt = typeof body.sentAt === 'string' && !Number.isNaN(Date.parse(body.sentAt)) ? body.sentAt : undefined;
    const context = isObject(body.context) ? (body.context as JsonObject) : undefined;
    return this.ingest(batch, sourceId, undefined, sentAt, context);
  }

  /** `POST /v1/track` and the other single-event endpoints. */
  async ingestOne(body: unknown, sourceId: number, type: EventType): Promise<IngestResult> {
    if (!isObject(body)) throw new HttpError('KIMLIK_BODY_NOT_OBJECT');
    return this.ingest([body], sourceId, type, undefined, undefined);
  }

  private async ingest(
    events: unknown[],
    sourceId: number,
    impliedType: EventType | undefined,
    sentAt: string | undefined,
    context: JsonObject | undefined,
  ): Promise<IngestResult> {
    const { limits, futureToleranceMs } = this.options;
    const rejected: Rejection[] = [];
    const rows: EventRow[] = [];
    // Kept only while someone watches the live debugger.
    const watched: Record<string, unknown>[] | null = this.feed.active ? [] : null;
    const receivedAtMs = Date.now();
    const receivedAtIso = new Date(receivedAtMs).toISOString();
    const sentAtMs = sentAt === undefined ? undefined : Date.parse(sentAt);
    for (let index = 0; index < events.length; index++) {
      // The body was parsed for this request alone, so its objects can be normalized in place.
      const result = validateEvent(events[index], limits, impliedType, { inPlace: true });
      if (!result.ok) {
        rejected.push({ index, messageId: result.messageId, code: result.code, reason: result.reason });
        continue;
      }
      const { stored, row } = enrichEvent(result.event, {
        sourceId,
        receivedAtMs,
        receivedAtIso,
        sentAt,
        sentAtMs,
        context,
        futureToleranceMs,
        identity: this.options.identity,
      });
      const payload = JSON.stringify(stored);
      const tooLarge = checkEventSize(payload, limits);
      if (tooLarge) {
        rejected.push({ index, messageId: row.messageId, ...tooLarge });
        continue;
      }
      row.payload = payload;
      rows.push(row);
      watched?.push(stored);
    }
    for (const r of rejected) this.metrics.rejected.inc({ code: r.code });
    if (this.feed.active && rejected.length > 0) {
      this.feed.publish(rejected.map((r) => ({ kind: 'rejected', sourceId, receivedAt: receivedAtIso, ...r })));
    }
    if (rows.length === 0) {
      throw new HttpError(
        'KIMLIK_BATCH_ALL_REJECTED',
        events.length === 0 ? 'The batch is empty: send at least one event' : undefined,
        { rejected },
      );
    }
    // Bounded queue: past the limit the client is told to come back, memory never grows unbounded.
    if (this.store.pendingEvents + rows.length > this.options.maxQueuedEvents) {
      this.metrics.overloaded.inc();
      throw new HttpError('KIMLIK_OVERLOADED', undefined, { retryAfterSeconds: 1 });
    }
    const outcomes = await this.store.insertEvents(rows);
    let duplicates = 0;
    let suppressed = 0;
    for (const o of outcomes) {
      if (o === 'duplicate') duplicates++;
      else if (o === 'suppressed') suppressed++;
    }
    if (watched && this.feed.active) {
      this.feed.publish(
        watched.map((event, i): LiveItem => ({ kind: 'event', sourceId, outcome: outcomes[i] ?? 'stored', event })),
      );
    }
    this.metrics.accepted.inc({}, rows.length);
    if (duplicates) this.metrics.deduplicated.inc({}, duplicates);
    if (suppressed) this.metrics.suppressed.inc({}, suppressed);
    return { accepted: rows.length, duplicates, suppressed, rejected };
  }
}
