import type { Rejection } from '../protocol.js';
import type { OutgoingBatch, PersistedEvent } from './ports.js';

/** Events in enqueue order: the queue, or the events of one batch. */
export interface EventRun {
  readonly length: number;
  /** Sum of the events' serialized (UTF-8) bytes. */
  readonly bytes: number;
  /** Enqueue order of event `i`: the engine's handle on it. */
  seq(i: number): number;
  id(i: number): string;
  /** Serialized (UTF-8) bytes of event `i`. */
  size(i: number): number;
  /** Events `from` (inclusive) to `to` (exclusive). */
  slice(from: number, to: number): EventRun;
}

/** One request body, with what to do once its request settled. */
export interface BuiltBatch extends OutgoingBatch {
  release?(): void;
}

/**
 * Where the engine keeps events between `enqueue()` and their acknowledgement, and how it turns
 * them into request bodies. A port because callers want opposite things: a small queue is simplest
 * as an array (`arrayEventBuffer`, the default), the Node SDK holds 100 000-event bursts and counts
 * bytes of heap (`packedEventBuffer`).
 * As a run it is the queue: events not yet in a batch, oldest first.
 */
export interface EventBuffer extends EventRun {
  /** Holds an event for the next `push()`; returns its serialized bytes so the engine can refuse it first. */
  stage(messageId: string, json: string): number;
  /** Queues the staged event under `seq`. */
  push(seq: number): void;
  /** Puts events from storage in front of the queue, numbered from `firstSeq`. */
  restore(events: readonly PersistedEvent[], firstSeq: number): void;
  /** Removes the `n` oldest queued events. */
  shift(n: number): EventRun;
  /** Bytes of a body's envelope around the events; batches leave this much room. */
  readonly envelopeBytes: number;
  body(events: EventRun, attempt: number, sentAt: string): BuiltBatch;
}

/** What a buffer needs to know: the engine's options and the extra body fields. */
export interface EventBufferConfig {
  readonly maxBatchBytes: number;
  readonly maxEventBytes: number;
  readonly maxConcurrentRequests: number;
  readonly bodyFields?: Record<string, unknown> | undefined;
}

export type EventBufferFactory = (config: EventBufferConfig) => EventBuffer;

/** The messageIds of a run. */
export function idsOf(events: EventRun): string[] {
  const ids: string[] = [];
  for (let i = 0; i < events.length; i++) ids.push(events.id(i));
  return ids;
}

/** `,"writeKey":"…"}`: what follows `sentAt` in every body. */
export function bodySuffix(bodyFields: Record<string, unknown> | undefined): string {
  const fields = bodyFields ? JSON.stringify(bodyFields).slice(1, -1) : '';
  return fields ? `,${fields}}` : '}';
}

/** A `/v1/batch` body from serialized events; `suffix` from `bodySuffix()`. */
export const batchJson = (jsons: readonly string[], sentAt: string, suffix: string): string =>
  `{"batch":[${jsons.join()}],"sentAt":"${sentAt}"${suffix}`;

/** Bytes around the events: `{"batch":[`, `],"sentAt":"<ISO date>"` and the suffix, generously. */
export const envelopeBytes = (suffix: string): number => 82 + suffix.length * 3;

/**
 * The events a collector answer refuses, as index in the batch → rejection. The messageId is
 * checked and, if the index does not match it, used to find the event instead.
 */
export function matchRejections(events: EventRun, rejected: readonly Rejection[]): Map<number, Rejection> {
  const refused = new Map<number, Rejection>();
  const ids = rejected.length > 0 ? idsOf(events) : [];
  for (const r of rejected) {
    const i = rejectedIndex(ids, r);
    if (i >= 0 && i < ids.length) refused.set(i, r);
  }
  return refused;
}

/**
 * Where in a batch's `ids` a rejection points: its index, unless the messageId there is another
 * and the batch holds the one named. A messageId the batch does not hold (the collector quotes
 * one over its length limit cut short) leaves the index to say which event it was.
 */
export function rejectedIndex(ids: readonly string[], r: Rejection): number {
  // Rejections are rare: the search costs nothing that matters.
  const named = r.messageId === null ? -1 : ids.indexOf(r.messageId);
  return named < 0 || ids[r.index] === r.messageId ? r.index : named;
}
