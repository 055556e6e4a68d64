import { suppressionHash } from './profile-id.js';

/**
 * A shared device (shared-device.ts) outlives the erasure of one of its users, but its time with
 * them does not: an event carrying only the device, timed in one of their periods on it (an offline
 * queue flushing late, or after their last login there), is theirs and dropped like their other
 * identifiers' events. Without this it went to the device's other user. An event with a userId is
 * that user's and stored as usual. Keyed by the device's suppression hash: the periods name no one.
 */
export type ErasedPeriods = Map<string, [from: number, to: number][]>;

/** One row of `suppressed_periods`. */
export type ErasedPeriod = [hash: string, from: number, to: number];

export function addErasedPeriods(periods: ErasedPeriods, rows: Iterable<ErasedPeriod>): void {
  for (const [hash, from, to] of rows) {
    const list = periods.get(hash) ?? [];
    list.push([from, to]);
    periods.set(hash, list);
  }
}

/** The device's periods with the erased person, as rows to store (their ranges, shared-device.ts). */
export function erasedPeriodRows(
  salt: string,
  devices: readonly { type: string; value: string; ranges: readonly (readonly [number, number])[] }[],
): ErasedPeriod[] {
  return devices.flatMap((d) =>
    d.ranges.map(([from, to]): ErasedPeriod => [suppressionHash(salt, d.type, d.value), from, to]),
  );
}

/**
 * The start of the erased period an event of an erased person on a shared device falls in (see
 * above), or undefined. A period still open at the erasure (after their last login there) ends
 * where another user identifies on the device, which the store asks its links and identify calls.
 */
export function erasedPeriodOf(
  periods: ErasedPeriods,
  salt: string,
  anonymousId: string | null,
  userId: string | null,
  ts: number,
): number | undefined {
  if (periods.size === 0 || !anonymousId || userId) return undefined;
  const ranges = periods.get(suppressionHash(salt, 'anonymousId', anonymousId));
  return ranges?.find(([from, to]) => ts >= from && ts < to)?.[0];
}
