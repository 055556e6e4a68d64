import type { IdentifierType } from '../identity/identifiers.js';
import { BEGINNING } from '../identity/resolve.js';
import { END } from '../identity/shared-device.js';
import { currentTraits, type TraitWrite } from '../identity/traits.js';
import type { ProfileEventsPage, ProfileView } from './store.js';

/** A profile's identifier with the time ranges [from, to) in which it belongs to the profile (anonymous IDs can change owner). */
export interface Member {
  id: number;
  type: IdentifierType;
  value: string;
  ranges: [number, number][];
}

const iso = (ms: number) => new Date(ms).toISOString();

/** Whether a trait write was made while its identifier belonged to the profile. */
export const inRanges = (member: Member, ts: number) => member.ranges.some(([from, to]) => ts >= from && ts < to);

/**
 * The admin API's profile, from what either store reads: its members, their trait writes and
 * the count and time span of its events. A device that belonged to the profile only for a while
 * shows those periods.
 */
export function profileView(
  pid: string,
  requested: string,
  members: readonly Member[],
  traitWrites: TraitWrite[],
  stats: { n: number; first: number | null; last: number | null },
): ProfileView {
  const view: ProfileView = {
    id: pid,
    identifiers: members.map((m) => {
      const entry: ProfileView['identifiers'][number] = { type: m.type, value: m.value };
      const partial = m.ranges.filter(([from]) => from !== BEGINNING || m.ranges.length > 1);
      if (m.type === 'anonymousId' && (partial.length > 0 || m.ranges[0]?.[1] !== END)) {
        entry.periods = m.ranges.map(([from, to]) => ({
          from: from <= BEGINNING ? null : iso(from),
          to: to >= END ? null : iso(to),
        }));
      }
      return entry;
    }),
    traits: currentTraits(traitWrites),
    firstSeen: stats.first === null ? null : iso(stats.first),
    lastSeen: stats.last === null ? null : iso(stats.last),
    eventCount: stats.n,
  };
  if (pid !== requested) view.mergedFrom = requested;
  return view;
}

/** One page of a timeline from up to `limit + 1` rows, newest first: the extra row says there is more. */
export function timelinePage(
  profileId: string,
  rows: readonly { id: number; ts: number; payload: string }[],
  limit: number,
): ProfileEventsPage {
  const page = rows.slice(0, limit);
  const last = page[page.length - 1];
  return {
    profileId,
    events: page.map((r) => JSON.parse(r.payload) as Record<string, unknown>),
    nextCursor: rows.length > limit && last ? `${last.ts}:${last.id}` : null,
  };
}
