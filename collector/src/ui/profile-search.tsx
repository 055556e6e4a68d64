import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
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

/** A search as the URL hash keeps it (`#/profiles?trait.plan=pro`, `#/profiles?email=…`). */
interface Search {
  by: string;
  trait: string;
  value: string;
}

const queryOf = (s: Search) =>
  new URLSearchParams([[s.by === 'trait' ? `trait.${s.trait}` : s.by, s.value]]).toString();

function parseQuery(query: string): Search | null {
  for (const [key, value] of new URLSearchParams(query)) {
    if (key.startsWith('trait.')) return { by: 'trait', trait: key.slice('trait.'.length), value };
    if (key !== 'trait' && LOOKUPS.some(([by]) => by === key)) return { by: key, trait: '', value };
  }
  return null;
}

/**
 * The search lives in the URL hash, so Back from a profile opened from it, and a reload, show it
 * again with its results. A lookup submitted here opens the profile it finds; the same lookup
 * reached by Back lists that profile instead (opening it again would make Back a loop).
 */
export function ProfileSearch(props: { api: AdminApi; query: string }) {
  const initial = parseQuery(props.query);
  const [by, setBy] = useState<string>(initial?.by ?? 'email');
  const [value, setValue] = useState(initial?.value ?? '');
  const [trait, setTrait] = useState(initial?.trait ?? '');
  const [results, setResults] = useState<Profile[] | null>(null);
  /** The search the results are of, and the next page of a trait list when there is one. */
  const [shown, setShown] = useState<Search | null>(null);
  const [more, setMore] = useState<string | null>(null);
  const [message, setMessage] = useState<ComponentChildren>(() => {
    const m = flash.message;
    flash.message = '';
    return m || null;
  });
  const [busy, setBusy] = useState(false);
  /** The query of the search submitted here, which opens the profile it finds. */
  const submitted = useRef<string | null>(null);
  /** Bumped by every search: an answer to an older one is dropped. */
  const generation = useRef(0);

  const traitPage = (s: Search, cursor: string | null) => {
    const q = `trait.${encodeURIComponent(s.trait)}=${encodeURIComponent(s.value)}&limit=50`;
    return props.api.get<{ profiles: Profile[]; nextCursor: string | null }>(
      `/v1/profiles?${q}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
    );
  };

  const loadMore = async () => {
    if (!more || !shown) return;
    const mine = generation.current;
    setBusy(true);
    try {
      const page = await traitPage(shown, more);
      if (mine !== generation.current) return;
      setResults((listed) => [...(listed ?? []), ...page.profiles]);
      setMore(page.nextCursor);
    } catch (err) {
      if (mine === generation.current) setMessage((err as Error).message);
    } finally {
      if (mine === generation.current) setBusy(false);
    }
  };

  const run = async (s: Search, open: boolean) => {
    const mine = ++generation.current;
    setBusy(true);
    setMessage(null);
    setResults(null);
    setMore(null);
    setShown(s);
    try {
      if (s.by === 'trait') {
        const page = await traitPage(s, null);
        if (mine !== generation.current) return;
        setResults(page.profiles);
        setMore(page.nextCursor);
        if (page.profiles.length === 0) {
          setMessage(
            <>
              No profile has <bdi>{s.trait}</bdi> = <bdi>{s.value}</bdi>.
            </>,
          );
        }
      } else {
        const profile = await props.api.get<Profile>(`/v1/profiles?${s.by}=${encodeURIComponent(s.value)}`);
        if (mine !== generation.current) return;
        if (open) location.hash = `#/profiles/${encodeURIComponent(profile.id)}`;
        else setResults([profile]);
      }
    } catch (err) {
      if (mine !== generation.current) return;
      setMessage(
        err instanceof ApiError && err.code === 'KIMLIK_PROFILE_NOT_FOUND' ? (
          <>
            No profile with {s.by} <bdi>{s.value}</bdi>.
          </>
        ) : (
          (err as Error).message
        ),
      );
    } finally {
      if (mine === generation.current) setBusy(false);
    }
  };

  const mounted = useRef(false);
  useEffect(() => {
    const s = parseQuery(props.query);
    const open = submitted.current === props.query;
    submitted.current = null;
    if (s) {
      setBy(s.by);
      setTrait(s.trait);
      setValue(s.value);
      void run(s, open);
    } else if (mounted.current) {
      // Back to the bare search page (the Profiles link): a blank form, as on a first visit.
      generation.current++;
      setBy('email');
      setTrait('');
      setValue('');
      setResults(null);
      setMore(null);
      setShown(null);
      setMessage(null);
      setBusy(false);
    }
    mounted.current = true;
  }, [props.query]);

  const search = (e: Event) => {
    e.preventDefault();
    const s: Search = { by, trait: by === 'trait' ? trait.trim() : '', value: value.trim() };
    const query = queryOf(s);
    // The same search again changes no hash: run here.
    if (query === props.query) void run(s, true);
    else {
      submitted.current = query;
      location.hash = `#/profiles?${query}`;
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
