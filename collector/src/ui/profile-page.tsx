import { useEffect, useRef, useState } from 'preact/hooks';
import type { AdminApi, History, Profile } from './api.js';
import { dateTimeOf, eventLabel, json, number, plural } from './format.js';
import { IdentityGraph } from './identity-graph.js';
import { HistoryEntry } from './identity-history.js';
import { flash } from './profile-search.js';
import { JsonValue, TraitValue } from './values.js';

interface Loaded {
  profile: Profile;
  history: History;
  events: Record<string, unknown>[];
  nextCursor: string | null;
}

/** A confirmation asked, with the button that asked it (focus returns there). */
type Pending = ({ kind: 'delete' } | { kind: 'unmerge'; type: string; value: string }) & { opener: HTMLElement };

/** A native modal dialog: focus moves into it, Escape cancels, the page behind is inert. */
function Confirm(props: { pending: Pending; profileId: string; onConfirm: () => void; onCancel: () => void }) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    // Focus goes back to the button that opened it (the dialog is removed, not closed, so the
    // browser does not restore it: Escape left focus on <body>).
    const { opener } = props.pending;
    const dialog = ref.current;
    dialog?.showModal();
    return () => {
      // Closed first: while a modal is open the page behind is inert and cannot take focus.
      if (dialog?.open) dialog.close();
      if (opener.isConnected) setTimeout(() => opener.focus());
    };
  }, []);
  const { pending } = props;
  return (
    <dialog ref={ref} onCancel={props.onCancel} aria-labelledby="confirm-title">
      <h2 id="confirm-title">{pending.kind === 'delete' ? 'Delete this profile?' : 'Unmerge this identifier?'}</h2>
      <p>
        {pending.kind === 'delete' ? (
          `Every event, trait, identifier and history entry of ${props.profileId} is erased. Its identifiers are suppressed: later events carrying them are dropped. This cannot be undone.`
        ) : (
          <>
            {pending.type} <bdi>{pending.value}</bdi> is detached from this profile and the link is ignored from now on.
          </>
        )}
      </p>
      <div class="dialog-actions">
        <button type="button" class="secondary" onClick={props.onCancel}>
          Cancel
        </button>
        <button type="button" class="danger" onClick={props.onConfirm}>
          {pending.kind === 'delete' ? 'Delete profile' : 'Unmerge'}
        </button>
      </div>
    </dialog>
  );
}

export function ProfilePage(props: { api: AdminApi; id: string }) {
  const { api, id } = props;
  const [data, setData] = useState<Loaded | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [pending, setPending] = useState<Pending | null>(null);
  const [openEvent, setOpenEvent] = useState<number | null>(null);
  const [reload, setReload] = useState(0);
  const [note, setNote] = useState(() => {
    const n = flash.detached;
    flash.detached = null;
    return n;
  });

  useEffect(() => {
    const enc = encodeURIComponent(id);
    Promise.all([
      api.get<Profile>(`/v1/profiles/${enc}`),
      api.get<History>(`/v1/profiles/${enc}/history`),
      api.get<{ events: Record<string, unknown>[]; nextCursor: string | null }>(`/v1/profiles/${enc}/events?limit=200`),
    ]).then(
      ([profile, history, page]) => {
        setData({ profile, history, events: page.events, nextCursor: page.nextCursor });
        setError(null);
      },
      (err: Error) => setError(err.message),
    );
  }, [api, id, reload]);

  // Reached by a merged-away id, the page shows the survivor: every action is on the survivor.
  const pid = data?.profile.id ?? id;

  const loadMore = async () => {
    if (!data?.nextCursor) return;
    try {
      const page = await api.get<{ events: Record<string, unknown>[]; nextCursor: string | null }>(
        `/v1/profiles/${encodeURIComponent(pid)}/events?limit=200&before=${encodeURIComponent(data.nextCursor)}`,
      );
      setData({ ...data, events: data.events.concat(page.events), nextCursor: page.nextCursor });
    } catch (err) {
      setError((err as Error).message);
    }
  };

  const exportJson = async () => {
    let body: unknown;
    try {
      body = await api.get<unknown>(`/v1/profiles/${encodeURIComponent(pid)}/export`);
    } catch (err) {
      setError((err as Error).message);
      return;
    }
    const url = URL.createObjectURL(new Blob([json(body)], { type: 'application/json' }));
    const a = document.createElement('a');
    a.href = url;
    a.download = `kimlik-profile-${pid}.json`;
    a.click();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  };

  const confirm = async () => {
    const action = pending;
    setPending(null);
    if (!action) return;
    try {
      if (action.kind === 'delete') {
        const erased = await api.delete<{ events: number; identifiers: number }>(
          `/v1/profiles/${encodeURIComponent(pid)}`,
        );
        flash.message = `Profile ${pid} deleted (${erased.events} events, ${erased.identifiers} identifiers).`;
        location.hash = '#/profiles';
        return;
      }
      const answer = await api.post<{ profileId: string; detachedProfileId: string | null }>(
        `/v1/profiles/${encodeURIComponent(pid)}/unmerge`,
        { type: action.type, value: action.value },
      );
      const said = { type: action.type, value: action.value, id: answer.detachedProfileId };
      // Detaching the identifier the profile began with takes its id along (README, rule 6): the
      // person stays under the id of the profile left behind, which the page moves to.
      if (answer.profileId !== pid) {
        flash.detached = said;
        location.hash = `#/profiles/${encodeURIComponent(answer.profileId)}`;
      } else {
        setNote(said);
        setReload((n) => n + 1);
      }
    } catch (err) {
      setError((err as Error).message);
    }
  };

  if (error && !data) {
    return (
      <main class="profile">
        <p class="error" role="alert">
          {error}
        </p>
        <a href="#/profiles">Back to search</a>
      </main>
    );
  }
  if (!data) return <main class="profile">Loading…</main>;
  const { profile, history, events } = data;
  // The profile's devices are its anonymousIds, all of them: the events loaded so far may show only some.
  const devices = profile.identifiers.filter((i) => i.type === 'anonymousId').map((i) => i.value);

  return (
    <main class="profile">
      <div class="page-head">
        <div>
          <p class="crumbs">
            <a href="#/profiles">Profiles</a> /
          </p>
          <h1>
            <bdi>{String(profile.traits.name ?? profile.traits.email ?? profile.id)}</bdi>
          </h1>
          <p class="muted">
            <code>{profile.id}</code> · {plural(profile.eventCount, 'event')} · first seen{' '}
            {dateTimeOf(profile.firstSeen)} · last seen {dateTimeOf(profile.lastSeen)}
          </p>
          {note && (
            <p class="notice" role="status">
              {note.type} <bdi>{note.value}</bdi> was detached
              {note.id && (
                <>
                  {' '}
                  into profile <a href={`#/profiles/${encodeURIComponent(note.id)}`}>{note.id}</a>
                </>
              )}
              .
            </p>
          )}
          {profile.mergedFrom && (
            <p class="notice">
              <code>{profile.mergedFrom}</code> was merged into this profile.
            </p>
          )}
        </div>
        <div class="actions">
          <button type="button" class="secondary" onClick={exportJson}>
            Export JSON
          </button>
          <button type="button" class="danger" onClick={(e) => setPending({ kind: 'delete', opener: e.currentTarget })}>
            Delete profile
          </button>
        </div>
      </div>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      <div class="columns">
        <section>
          <h2>Traits</h2>
          {Object.keys(profile.traits).length === 0 ? (
            <p class="muted">No traits.</p>
          ) : (
            <table>
              <tbody>
                {Object.entries(profile.traits).map(([k, v]) => (
                  <tr>
                    <th scope="row">
                      <bdi>{k}</bdi>
                    </th>
                    <td>
                      <TraitValue value={v} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </section>
        <section>
          <h2>Identifiers</h2>
          <table class="identifiers">
            <tbody>
              {profile.identifiers.map((i) => (
                <tr>
                  <th scope="row">{i.type}</th>
                  <td>
                    <bdi>{i.value}</bdi>
                    {i.periods?.map((p) => (
                      <div class="muted small">
                        {p.from ? `from ${dateTimeOf(p.from)}` : 'from the start'}{' '}
                        {p.to ? `until ${dateTimeOf(p.to)}` : 'on'}
                      </div>
                    ))}
                  </td>
                  <td>
                    {profile.identifiers.length > 1 && (
                      <button
                        type="button"
                        class="secondary small"
                        aria-label={`Unmerge ${i.type} ${i.value}`}
                        onClick={(e) =>
                          setPending({ kind: 'unmerge', type: i.type, value: i.value, opener: e.currentTarget })
                        }
                      >
                        Unmerge
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
      </div>
      <section>
        <h2>Why these belong together</h2>
        <IdentityGraph profile={profile} identity={history.identity} />
        {history.identity.length === 0 ? (
          <p class="muted">One identifier set from the start: nothing was merged.</p>
        ) : (
          <ol class="history">
            {history.identity.map((e) => (
              <HistoryEntry entry={e} />
            ))}
          </ol>
        )}
      </section>
      <section>
        <h2>
          Timeline <span class="muted small">({plural(devices.length, 'device')}, newest first)</span>
        </h2>
        <ol class="timeline">
          {events.map((e, i) => {
            const device = String(e.anonymousId ?? '');
            const open = openEvent === i;
            return (
              <li>
                <button type="button" class="row" aria-expanded={open} onClick={() => setOpenEvent(open ? null : i)}>
                  <span class="time">{dateTimeOf(e.timestamp)}</span>
                  <span class={`badge ${String(e.type)}`}>{String(e.type)}</span>
                  <span class="label">
                    <bdi>{eventLabel(e)}</bdi>
                  </span>
                  <span class={`device d${Math.max(0, devices.indexOf(device)) % 6}`}>
                    {device ? (
                      <>
                        device <bdi>{device}</bdi>
                      </>
                    ) : (
                      <>
                        server (<bdi>{String(e.userId ?? '')}</bdi>)
                      </>
                    )}
                  </span>
                </button>
                {open && <pre class="json">{json(e)}</pre>}
              </li>
            );
          })}
        </ol>
        {data.nextCursor && (
          <p>
            <span class="muted">Showing the latest {number(events.length)} events.</span>{' '}
            <button type="button" class="secondary small" onClick={loadMore}>
              Load older events
            </button>
          </p>
        )}
      </section>
      <section>
        <h2>Trait history</h2>
        {history.traits.length === 0 ? (
          <p class="muted">No trait changes.</p>
        ) : (
          <table>
            <thead>
              <tr>
                <th scope="col">Time</th>
                <th scope="col">Trait</th>
                <th scope="col">Old</th>
                <th scope="col">New</th>
              </tr>
            </thead>
            <tbody>
              {history.traits.map((t) => (
                <tr>
                  <td>{dateTimeOf(t.timestamp)}</td>
                  <td>
                    <bdi>{t.trait}</bdi>
                  </td>
                  <td>{t.old === undefined ? '—' : <JsonValue value={t.old} />}</td>
                  <td>{t.new === undefined ? '—' : <JsonValue value={t.new} />}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
      {pending && <Confirm pending={pending} profileId={pid} onConfirm={confirm} onCancel={() => setPending(null)} />}
    </main>
  );
}
