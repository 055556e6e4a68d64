import {
  checkEventSize,
  checkJsonValue,
  type EventType,
  eventTooLarge,
  type JsonObject,
  type Limits,
  parseTimestamp,
  REJECTION_CODES,
  type Rejection,
  utf8Length,
  validateEvent,
} from '@kimlik/core';
import { HttpError } from '../http/errors.js';
import type { IdentityConfig } from '../identity/identifiers.js';
import type { Metrics } from '../metrics.js';
import type { EventRow, Store } from '../store/store.js';
import { ADDED, type Enriched, enrichEvent } from './enrich.js';
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
  maxQueuedBytes: number;
  futureToleranceMs: number;
  identity: IdentityConfig;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Detail of a 400 that refuses the whole body: the answer then carries `success: false`,
 * `accepted: 0` and `rejected`, the shape of every other ingest answer (see app.ts).
 */
const NOTHING_ACCEPTED = { rejected: [] };

/** A batch's context merged into its events may store at most this many times the body limit. */
const MERGE_FACTOR = 4;

/** Batch-level fields merged into every event (Segment's `context` and `integrations`). */
interface Envelope {
  sentAt: string | undefined;
  sentAtInvalid: boolean;
  context: JsonObject | undefined;
  integrations: JsonObject | undefined;
}

/**
 * An event's size as the client sent it (with the batch's context merged, which becomes part
 * of it): the stored copy minus what the server added. Only called for the rare event whose
 * stored copy is over the limit.
 */
function sentBytes({ stored, added, clientTimestamp }: Enriched, typeImplied: boolean, numericIds: number): number {
  const copy: Record<string, unknown> = { ...stored, receivedAt: undefined, warnings: undefined };
  if (typeImplied) copy.type = undefined;
  if (added & ADDED.MESSAGE_ID) copy.messageId = undefined;
  copy.timestamp = added & ADDED.TIMESTAMP ? undefined : clientTimestamp;
  if (added & ADDED.ORIGINAL_TIMESTAMP) copy.originalTimestamp = undefined;
  if (added & ADDED.SENT_AT) copy.sentAt = undefined;
  // Ids sent as numbers are stored as strings: their quotes are the server's too.
  return utf8Length(JSON.stringify(copy)) - 2 * numericIds;
}

/**
 * The request index of the `row`-th stored row: rows are the request's events minus the rejected
 * ones (`rejected`, in index order). Only for the rare refused event: no index is kept per row.
 */
function requestIndex(row: number, rejected: readonly Rejection[]): number {
  let index = row;
  for (const r of rejected) if (r.index <= index) index++;
  return index;
}

/** An event the database refused (see `InsertOutcome`): rejected alone, with what the database said. */
const notStored = (error: string) => ({
  code: REJECTION_CODES.NOT_STORED,
  reason: `the database refused to store this event every time it was written, alone too (${error}); the rest of the batch is stored. Please report it: it is a bug in the collector or its database`,
});

/**
 * Validates, enriches and commits the events of one request. A bad event is rejected alone with
 * its index and reason; the rest is stored. Resolves only after the commit.
 */
const NO_ENVELOPE: Envelope = { sentAt: undefined, sentAtInvalid: false, context: undefined, integrations: undefined };

export class IngestService {
  /** Payload characters of the events handed to the store and not yet answered. */
  private queuedBytes = 0;

  constructor(
    private readonly store: Store,
    private readonly metrics: Metrics,
    private readonly options: IngestServiceOptions,
    private readonly feed: LiveFeed = new LiveFeed(),
  ) {}

  /** `POST /v1/batch`. */
  async ingestBatch(body: unknown, sourceId: number): Promise<IngestResult> {
    if (!isObject(body)) throw new HttpError('KIMLIK_BODY_NOT_BATCH', undefined, NOTHING_ACCEPTED);
    const batch = body.batch;
    if (!Array.isArray(batch)) {
      throw new HttpError(
        'KIMLIK_BODY_NOT_BATCH',
        'The body must be a JSON object with a "batch" array of events',
        NOTHING_ACCEPTED,
      );
    }
    if (batch.length > this.options.limits.maxBatchEvents) {
      throw new HttpError(
        'KIMLIK_BATCH_TOO_MANY_EVENTS',
        `The batch holds ${batch.length} events; the limit is ${this.options.limits.maxBatchEvents} per batch`,
        { limit: this.options.limits.maxBatchEvents, ...NOTHING_ACCEPTED },
      );
    }
    if (batch.length === 0) {
      throw new HttpError('KIMLIK_BODY_NOT_BATCH', 'The batch is empty: send at least one event', NOTHING_ACCEPTED);
    }
    const sentAtValid = typeof body.sentAt === 'string' && parseTimestamp(body.sentAt) !== null;
    const envelope: Envelope = {
      sentAt: sentAtValid ? (body.sentAt as string) : undefined,
      // Not a reason to refuse the events: they are stored with their own times, and say why.
      sentAtInvalid: !sentAtValid && body.sentAt !== undefined && body.sentAt !== null,
      context: this.mergedObject(body, 'context', batch.length),
      integrations: this.mergedObject(body, 'integrations', batch.length),
    };
    return this.ingest(batch, sourceId, undefined, envelope);
  }

  /**
   * A batch-level object that is merged into each of its `events`: checked like an event's own
   * (depth, keys, strings), and bounded so that a small body cannot store a large one many times.
   */
  private mergedObject(body: Record<string, unknown>, field: string, events: number): JsonObject | undefined {
    const value = body[field];
    if (value === undefined || value === null) return undefined;
    const { limits } = this.options;
    if (!isObject(value)) {
      throw new HttpError('KIMLIK_REQUEST_INVALID', `The batch's ${field} must be a JSON object`, NOTHING_ACCEPTED);
    }
    const fault = checkJsonValue(value, field, limits);
    if (fault) throw new HttpError('KIMLIK_REQUEST_INVALID', `The batch's ${fault.reason}`, NOTHING_ACCEPTED);
    const bytes = utf8Length(JSON.stringify(value));
    if (bytes > limits.maxEventBytes) {
      throw new HttpError(
        'KIMLIK_REQUEST_INVALID',
        `The batch's ${field} is ${bytes} bytes; it is merged into every event, so it must fit the event limit of ${limits.maxEventBytes} bytes`,
        NOTHING_ACCEPTED,
      );
    }
    const merged = bytes * events;
    const limit = MERGE_FACTOR * limits.maxBodyBytes;
    if (merged > limit) {
      throw new HttpError(
        'KIMLIK_BODY_TOO_LARGE',
        `The batch's ${field} (${bytes} bytes) merged into its ${events} events makes ${merged} bytes; the limit is ${limit} bytes (${MERGE_FACTOR} times the body limit): send it in each event or in smaller batches`,
        { limitBytes: limit, ...NOTHING_ACCEPTED },
      );
    }
    return value as JsonObject;
  }

  /** `POST /v1/track` and the other single-event endpoints. */
  async ingestOne(body: unknown, sourceId: number, type: EventType): Promise<IngestResult> {
    if (!isObject(body)) throw new HttpError('KIMLIK_BODY_NOT_OBJECT', undefined, NOTHING_ACCEPTED);
    return this.ingest([body], sourceId, type, NO_ENVELOPE);
  }

  private async ingest(
    events: unknown[],
    sourceId: number,
    impliedType: EventType | undefined,
    envelope: Envelope,
  ): Promise<IngestResult> {
    const { limits, futureToleranceMs } = this.options;
    const rejected: Rejection[] = [];
    const rows: EventRow[] = [];
    // Kept only while someone watches the live debugger.
    const watched: Record<string, unknown>[] | null = this.feed.active ? [] : null;
    const receivedAtMs = Date.now();
    const receivedAtIso = new Date(receivedAtMs).toISOString();
    const { sentAt } = envelope;
    const sentAtMs = sentAt === undefined ? undefined : (parseTimestamp(sentAt) as number);
    for (let index = 0; index < events.length; index++) {
      // The body was parsed for this request alone, so its objects can be normalized in place,
      // and let go once serialized: the request, and with it its body, lives until the commit.
      const event = events[index];
      events[index] = undefined;
      // `/v1/track` and the like: the type the path stands for was not sent.
      const typeImplied = impliedType !== undefined && (event as { type?: unknown } | null)?.type === undefined;
      const sentAtInvalid = dropInvalidSentAt(event);
      const result = validateEvent(event, limits, impliedType, { inPlace: true });
      if (!result.ok) {
        rejected.push({ index, messageId: result.messageId, code: result.code, reason: result.reason });
        continue;
      }
      const enriched = enrichEvent(result.event, {
        sourceId,
        receivedAtMs,
        receivedAtIso,
        sentAt,
        sentAtMs,
        sentAtInvalid: envelope.sentAtInvalid,
        ownSentAtInvalid: sentAtInvalid,
        context: envelope.context,
        integrations: envelope.integrations,
        futureToleranceMs,
        identity: this.options.identity,
      });
      const { stored, row } = enriched;
      const payload = JSON.stringify(stored);
      // The limit is on the event as sent: the fields the server adds do not count against it.
      if (checkEventSize(payload, limits) !== null) {
        const bytes = sentBytes(enriched, typeImplied, result.numericIds);
        if (bytes > limits.maxEventBytes) {
          const messageId = enriched.added & ADDED.MESSAGE_ID ? null : row.messageId;
          rejected.push({ index, messageId, ...eventTooLarge(bytes, limits) });
          continue;
        }
      }
      row.payload = payload;
      rows.push(row);
      watched?.push(stored);
    }
    // Counted (and shown live) once the answer is final: a request answered 429 or 503 is sent
    // again, and its invalid events with it.
    const tell = (refused: readonly Rejection[]) => {
      for (const r of refused) this.metrics.rejected.inc({ code: r.code });
      if (this.feed.active && refused.length > 0) {
        this.feed.publish(refused.map((r) => ({ kind: 'rejected', sourceId, receivedAt: receivedAtIso, ...r })));
      }
    };
    if (rows.length === 0) {
      tell(rejected);
      throw new HttpError('KIMLIK_BATCH_ALL_REJECTED', undefined, { rejected });
    }
    // Bounded queue: past the limit the client is told to come back, memory never grows unbounded.
    // A batch larger than the bound is admitted alone into an empty queue (refused, it would be
    // refused forever).
    // In bytes too (payload characters, near enough): 50 000 events of 32 KB would be gigabytes.
    const pending = this.store.pendingEvents;
    let bytes = 0;
    for (const row of rows) bytes += row.payload.length;
    if (
      (pending > 0 && pending + rows.length > this.options.maxQueuedEvents) ||
      (this.queuedBytes > 0 && this.queuedBytes + bytes > this.options.maxQueuedBytes)
    ) {
      this.metrics.overloaded.inc();
      throw new HttpError('KIMLIK_OVERLOADED', undefined, { retryAfterSeconds: 1 });
    }
    // Not read after the commit: objects held across it survive young-generation collections,
    // which then copy them (measured with the parsed events above: main-thread scavenges 1.8-2.4
    // -> 1.0-1.3 µs per event at 50 batches in flight).
    let accepted = rows.length;
    const inserting = this.store.insertEvents(rows);
    // Both stores take what they need before returning (SQLite posts the rows to its writer,
    // PostgreSQL encodes the payloads): the rows can go now rather than survive until the commit.
    rows.length = 0;
    this.queuedBytes += bytes;
    let outcomes: Awaited<typeof inserting>;
    try {
      outcomes = await inserting;
    } finally {
      this.queuedBytes -= bytes;
    }
    tell(rejected);
    let duplicates = 0;
    let suppressed = 0;
    const refused: Rejection[] = [];
    for (let i = 0; i < outcomes.length; i++) {
      const o = outcomes[i];
      if (o === 'duplicate') duplicates++;
      else if (o === 'suppressed') suppressed++;
      else if (typeof o === 'object') {
        refused.push({ index: requestIndex(i, rejected), messageId: o.messageId, ...notStored(o.refused) });
      }
    }
    if (refused.length > 0) {
      accepted -= refused.length;
      tell(refused);
      rejected.push(...refused);
      rejected.sort((a, b) => a.index - b.index);
      if (accepted === 0) throw new HttpError('KIMLIK_BATCH_ALL_REJECTED', undefined, { rejected });
    }
    if (watched && this.feed.active) {
      const items: LiveItem[] = [];
      watched.forEach((event, i) => {
        const outcome = outcomes[i] ?? 'stored';
        if (typeof outcome !== 'object') items.push({ kind: 'event', sourceId, outcome, event });
      });
      this.feed.publish(items);
    }
    this.metrics.accepted.inc({}, accepted);
    if (duplicates) this.metrics.deduplicated.inc({}, duplicates);
    if (suppressed) this.metrics.suppressed.inc({}, suppressed);
    return { accepted, duplicates, suppressed, rejected };
  }
}

/**
 * An event's own `sentAt` that is not a timestamp is dropped (the batch's, if any, takes its place):
 * it only serves the clock correction, so it is no reason to lose the event. Returns whether it was.
 */
function dropInvalidSentAt(event: unknown): boolean {
  const e = event as { sentAt?: unknown } | null;
  if (typeof e !== 'object' || e === null || e.sentAt === undefined || e.sentAt === null) return false;
  if (typeof e.sentAt === 'string' && parseTimestamp(e.sentAt) !== null) return false;
  delete e.sentAt;
  return true;
}
