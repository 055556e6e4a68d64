import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { type AdminApi, ApiError, type Profile } from './api.js';
import { dateTimeOf, number } from './format.js';

const LOOKUPS = [
  ['email', 'Email'],
  ['userId', 'User ID'],
  ['anonymousId', 'Anonymous ID'],
  ['phone', 'Phone'],
  ['trait', 'Trait'],
] as const;

/**
 * What a page says once on the page the hash leads to next: after a delete, the search page's
 * message; after an unmerge that moved the profile page, where the identifier went.
 */
export const flash: { message: string; detached: { type: string; value: string; id: string | null } | null } = {
  message: '',
  detached: null,
};

export function ProfileSearch(props: { api: AdminApi }) {
  const [by, setBy] = useState<string>('email');
  const [value, setValue] = useState('');
  const [trait, setTrait] = useState('');
  const [results, setResults] = useState<Profile[] | null>(null);
  /** The next page of a trait list, when there is one. */
  const [more, setMore] = useState<string | null>(null);
  const [message, setMessage] = useState<ComponentChildren>(() => {
    const m = flash.message;
    flash.message = '';
    return m || null;
  });
  const [busy, setBusy] = useState(false);

  const traitPage = (cursor: string | null) => {
    const q = `trait.${encodeURIComponent(trait.trim())}=${encodeURIComponent(value.trim())}&limit=50`;
    return props.api.get<{ profiles: Profile[]; nextCursor: string | null }>(
      `/v1/profiles?${q}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
    );
  };

  const loadMore = async () => {
    if (!more) return;
    setBusy(true);
    try {
      const page = await traitPage(more);
      setResults((shown) => [...(shown ?? []), ...page.profiles]);
      setMore(page.nextCursor);
    } catch (err) {
      setMessage((err as Error).message);
    } finally {
      setBusy(false);
    }
  };

  const search = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setMessage(null);
    setResults(null);
    setMore(null);
    try {
      if (by === 'trait') {
        const page = await traitPage(null);
        setResults(page.profiles);
        setMore(page.nextCursor);
        if (page.profiles.length === 0) {
          setMessage(
            <>
              No profile has <bdi>{trait.trim()}</bdi> = <bdi>{value.trim()}</bdi>.
            </>,
          );
        }
      } else {
        const profile = await props.api.get<Profile>(`/v1/profiles?${by}=${encodeURIComponent(value.trim())}`);
        location.hash = `#/profiles/${encodeURIComponent(profile.id)}`;
      }
    } catch (err) {
      setMessage(
        err instanceof ApiError && err.code === 'KIMLIK_PROFILE_NOT_FOUND' ? (
          <>
            No profile with {by} <bdi>{value.trim()}</bdi>.
          </>
        ) : (
          (err as Error).message
        ),
      );
    } finally {
      setBusy(false);
    }
  };

  return (
    <main class="profiles">
      <h1>Profiles</h1>
      <form class="search" onSubmit={search} aria-label="Find a profile">
        <label>
          Find by
          <select value={by} onChange={(e) => setBy((e.target as HTMLSelectElement).value)}>
            {LOOKUPS.map(([v, label]) => (
              <option value={v}>{label}</option>
            ))}
          </select>
        </label>
        {by === 'trait' && (
          <label>
            Trait name
            <input
              required
              value={trait}
              placeholder="plan"
              onInput={(e) => setTrait((e.target as HTMLInputElement).value)}
            />
          </label>
        )}
        <label class="grow">
          {by === 'trait' ? 'Value' : (LOOKUPS.find(([v]) => v === by)?.[1] ?? by)}
          <input
            name="query"
            // Not type=email: the browser would refuse addresses the collector stores (jürgen@…, quoted ones).
            type="text"
            inputMode={by === 'email' ? 'email' : 'text'}
            required
            value={value}
            placeholder={by === 'email' ? 'ada@example.com' : ''}
            onInput={(e) => setValue((e.target as HTMLInputElement).value)}
          />
        </label>
        <button type="submit" disabled={busy}>
          {busy ? 'Searching…' : 'Search'}
        </button>
      </form>
      {message && (
        <p class="notice" role="status">
          {message}
        </p>
      )}
      {results && results.length > 0 && (
        <table>
          <thead>
            <tr>
              <th scope="col">Profile</th>
              <th scope="col">Identifiers</th>
              <th scope="col" class="num">
                Events
              </th>
              <th scope="col">Last seen</th>
            </tr>
          </thead>
          <tbody>
            {results.map((p) => (
              <tr>
                <td>
                  <a href={`#/profiles/${encodeURIComponent(p.id)}`}>{p.id}</a>
                </td>
                <td>
                  {p.identifiers.map((i, n) => (
                    <>
                      {n > 0 && ', '}
                      {i.type}: <bdi>{i.value}</bdi>
                    </>
                  ))}
                </td>
                <td class="num">{number(p.eventCount)}</td>
                <td>{dateTimeOf(p.lastSeen)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {more && (
        <p>
          <button type="button" class="secondary small" disabled={busy} onClick={loadMore}>
            More profiles
          </button>
        </p>
      )}
    </main>
  );
}
