import type { ComponentChildren } from 'preact';
import type { IdentityEntry } from './api.js';
import { dateTimeOf, number, plural } from './format.js';
import { JsonValue, List } from './values.js';

/** One sentence per identity history entry, saying why; every value in it isolated. */
export function explain(e: IdentityEntry): ComponentChildren {
  const link = Array.isArray(e.link) ? <List values={e.link} separator=" and " /> : null;
  const v = (value: unknown) => <bdi>{String(value ?? '')}</bdi>;
  switch (e.kind) {
    case 'merge':
      return (
        <>
          {link} were seen in the same event, so the identifiers grouped with {v(e.absorbed)} joined the profile of{' '}
          {v(e.survivor)} (the older identifier keeps its profile).
        </>
      );
    case 'refused_two_user_ids':
      return (
        <>
          Link between {link} refused: it would join two userIds (
          <List values={Array.isArray(e.userIds) ? e.userIds : []} separator=", " />
          ); {v(e.reason)}.
        </>
      );
    case 'refused_unmerged':
      return (
        <>
          Link between {link} refused: an admin unmerged{' '}
          <List values={Array.isArray(e.unmerged) ? e.unmerged : []} separator=" and " />, so no link joins them again.
        </>
      );
    case 'device_reassigned':
      return (
        <>
          Device {v(e.anonymousId)} was identified as {v(e.to)}: its events from then on belong to that user, not{' '}
          {v(e.from)}.
        </>
      );
    case 'cap_reached':
      // A hub's entry, and a new identifier's past the cluster limit, name no single link.
      return (
        <>
          {link ? <>Link between {link}</> : 'Links'} parked: {v(e.reason)}.
        </>
      );
    case 'unmerge':
      return (
        <>
          {v(e.identifier)} was unmerged by an admin ({plural(Number(e.detachedLinks ?? 0), 'link')} cut).
        </>
      );
    default:
      return <bdi>{JSON.stringify(e)}</bdi>;
  }
}

interface TraitChange {
  key: string;
  /** null: the key was absent on that side (README, rule 8). */
  from: unknown;
  to: unknown;
}

/** The line closing a bounded list: how many items the unmerge entry left out. */
function LeftOut(props: { count: number; what: string; one: string; many: string }) {
  const { count, what, one, many } = props;
  if (count <= 0) return null;
  return (
    <li class="muted">
      and {number(count)} {what} {count === 1 ? one : many}, left out to keep the record bounded.
    </li>
  );
}

/**
 * What an unmerge undid (README, rule 8): the replay rewrites what the history derives from the
 * links, so the entries it removed and the trait values it changed live only in the unmerge entry.
 */
function UnmergeUndone(props: { entry: IdentityEntry }) {
  const { entry } = props;
  const undid = Array.isArray(entry.undid) ? (entry.undid as IdentityEntry[]) : [];
  const traits = Array.isArray(entry.traits) ? (entry.traits as TraitChange[]) : [];
  const undidOmitted = typeof entry.undidOmitted === 'number' ? entry.undidOmitted : 0;
  const traitsOmitted = typeof entry.traitsOmitted === 'number' ? entry.traitsOmitted : 0;
  return (
    <>
      {undid.length + undidOmitted > 0 && (
        <div class="undone">
          It undid:
          <ul class="history undone-entries">
            {undid.map((u) => (
              <HistoryEntry entry={u} />
            ))}
            <LeftOut count={undidOmitted} what="older" one="entry" many="entries" />
          </ul>
        </div>
      )}
      {traits.length + traitsOmitted > 0 && (
        <div class="undone">
          Traits it changed:
          <ul class="undone-traits">
            {traits.map((t) => (
              <li>
                <bdi>{t.key}</bdi>: {t.from === null ? 'not set' : <JsonValue value={t.from} />} →{' '}
                {t.to === null ? 'removed' : <JsonValue value={t.to} />}
              </li>
            ))}
            <LeftOut count={traitsOmitted} what="more" one="trait" many="traits" />
          </ul>
        </div>
      )}
    </>
  );
}

/** One line of the identity history: its kind, when, why; an unmerge also what it undid. */
export function HistoryEntry(props: { entry: IdentityEntry }) {
  const e = props.entry;
  return (
    <li class={e.kind}>
      <span class={`badge ${e.kind}`}>{e.kind.replace(/_/g, ' ')}</span>{' '}
      <time dateTime={e.timestamp}>{dateTimeOf(e.timestamp)}</time> — {explain(e)}
      {e.kind === 'unmerge' && <UnmergeUndone entry={e} />}
    </li>
  );
}
