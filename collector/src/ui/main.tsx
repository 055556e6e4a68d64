import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { AdminApi, ApiError } from './api.js';
import { LiveDebugger } from './live-debugger.js';
import { Overview } from './overview.js';
import { ProfilePage } from './profile-page.js';
import { ProfileSearch } from './profile-search.js';

/** Kept for the browser tab's session only: closing the tab signs out. */
const KEY_STORAGE = 'kimlik.adminKey';

function useHashRoute(): string {
  const [hash, setHash] = useState(location.hash || '#/live');
  useEffect(() => {
    const onChange = () => setHash(location.hash || '#/live');
    addEventListener('hashchange', onChange);
    return () => removeEventListener('hashchange', onChange);
  }, []);
  return hash;
}

/** Why the user was signed out, said on the sign-in form; a Sign out click needs no reason. */
const KEY_REJECTED =
  'You were signed out: the admin key was changed or is no longer valid. Sign in with the current one.';

function SignIn(props: { onSignedIn: (api: AdminApi) => void; reason: string | null }) {
  const [key, setKey] = useState('');
  const [error, setError] = useState<string | null>(props.reason);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    const api = new AdminApi(key.trim());
    try {
      // Any admin call proves the key; listing sources is the cheapest.
      await api.sources();
      sessionStorage.setItem(KEY_STORAGE, key.trim());
      props.onSignedIn(api);
    } catch (err) {
      setError(
        err instanceof ApiError && err.status === 401
          ? 'That is not the admin key of this collector. Use the admin key (secret) printed when the collector first started, not the write key.'
          : (err as Error).message,
      );
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="sign-in">
      <h1>Kimlik dashboard</h1>
      <form onSubmit={submit}>
        <label for="admin-key">Admin key</label>
        <input
          id="admin-key"
          name="admin-key"
          type="password"
          autocomplete="current-password"
          required
          value={key}
          onInput={(e) => setKey((e.target as HTMLInputElement).value)}
          aria-describedby="admin-key-help"
          aria-invalid={error !== null}
        />
        <p id="admin-key-help" class="help">
          Printed by the collector on its first start (<code>admin key (secret)</code>), or set with{' '}
          <code>KIMLIK_ADMIN_KEY</code>. Kept for this browser tab only.
        </p>
        <button type="submit" disabled={busy || key.trim() === ''}>
          {busy ? 'Checking…' : 'Sign in'}
        </button>
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
      </form>
    </main>
  );
}

const NAV = [
  ['#/live', 'Live debugger'],
  ['#/overview', 'Overview'],
  ['#/profiles', 'Profiles'],
] as const;

function App() {
  const [api, setApi] = useState<AdminApi | null>(() => {
    const saved = sessionStorage.getItem(KEY_STORAGE);
    return saved ? new AdminApi(saved) : null;
  });
  const [signedOutBecause, setSignedOutBecause] = useState<string | null>(null);
  const route = useHashRoute();
  if (!api) return <SignIn onSignedIn={setApi} reason={signedOutBecause} />;
  const signOut = (reason: string | null = null) => {
    sessionStorage.removeItem(KEY_STORAGE);
    setSignedOutBecause(reason);
    setApi(null);
  };
  // A key that stops working (rotated, or a stale tab) sends the user back to sign in, from any page.
  const onUnauthorized = (err: unknown) => {
    if (err instanceof ApiError && err.status === 401) signOut(KEY_REJECTED);
  };
  api.onUnauthorized = () => signOut(KEY_REJECTED);
  // A page's state past the path rides after a "?" (the profile search: #/profiles?trait.plan=pro).
  const at = route.indexOf('?');
  const query = at === -1 ? '' : route.slice(at + 1);
  const [path, arg] = route
    .slice(1, at === -1 ? undefined : at)
    .split('/')
    .filter(Boolean);
  let page = <LiveDebugger api={api} onError={onUnauthorized} />;
  if (path === 'overview') page = <Overview api={api} onError={onUnauthorized} />;
  else if (path === 'profiles' && arg) page = <ProfilePage api={api} id={decodeURIComponent(arg)} key={arg} />;
  else if (path === 'profiles') page = <ProfileSearch api={api} query={query} />;
  const current = path === 'profiles' ? '#/profiles' : path === 'overview' ? '#/overview' : '#/live';
  return (
    <>
      <header class="top">
        <a class="brand" href="#/live">
          Kimlik
        </a>
        <nav aria-label="Dashboard">
          {NAV.map(([href, label]) => (
            <a href={href} aria-current={current === href ? 'page' : undefined}>
              {label}
            </a>
          ))}
        </nav>
        <button type="button" class="link" onClick={() => signOut()}>
          Sign out
        </button>
      </header>
      {page}
    </>
  );
}

const root = document.getElementById('app');
if (root) {
  root.textContent = '';
  render(<App />, root);
}
