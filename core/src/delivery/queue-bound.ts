import type { EventBuffer } from './event-buffer.js';
import type { ResolvedDeliveryOptions } from './options.js';

/**
 * Room left in memory after `count` more events of `bytes`, in events (negative when over either
 * bound). The bound counts queued events and those in batches until they are acknowledged.
 */
export function roomLeft(
  o: ResolvedDeliveryOptions,
  queue: EventBuffer,
  inFlightEvents: number,
  inFlightBytes: number,
  count: number,
  bytes: number,
): number {
  const events = o.maxQueueEvents - queue.length - inFlightEvents - count;
  return o.maxQueueBytes - queue.bytes - inFlightBytes - bytes < 0 ? -1 : events;
}
