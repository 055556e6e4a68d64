import { KimlikError, uuidv7 } from '@kimlik/core';
import { WEB_ERROR_CODES } from './errors.js';
import { guard, LOCAL, type Report } from './identity.js';

/** How long a localStorage lease lasts without renewal; its holder renews every third of it. */
const LEASE_MS = 3000;

/**
 * One sending tab per origin. Web Locks first: a tab that finds the lock taken follows and waits
 * for it; the browser releases a closed tab's lock and grants it to the next waiting tab, which is
 * the handover. Without Web Locks, a lease in localStorage renewed by its holder: a closed tab's
 * lease expires and another takes it. Where neither works, the tab leads alone.
 */
export function electLeader(name: string, onRole: (leading: boolean) => void, report: Report): void {
  const locks = navigator.locks;
  if (locks) {
    let stop: AbortController;
    const join = () => {
      stop = new AbortController();
      const { signal } = stop;
      const hold = () => {
        onRole(true);
        // Granted, the lock is no longer the signal's: its abort lets go of it.
        return new Promise((resolve) => (signal.onabort = resolve));
      };
      locks
        .request(name, { ifAvailable: true }, (lock) => {
          if (lock) return hold();
          onRole(false);
          return locks.request(name, { signal }, hold);
        })
        .catch((cause: unknown) => {
          if (signal.aborted) return;
          report(new KimlikError(WEB_ERROR_CODES.LEADER, 'Web Locks failed, using a localStorage lease', { cause }));
          lease(name, onRole, report);
        });
    };
    // Held until the tab goes, or may enter the back/forward cache: Chrome evicts a cached page
    // whose lock (held or asked for) the next page of the site asks for. Its queue is in
    // IndexedDB and page exit has stashed and beaconed; restored, it joins the election again.
    addEventListener('pagehide', (e) => {
      if (!e.persisted) return;
      stop.abort();
      onRole(false);
    });
    addEventListener('pageshow', (e) => e.persisted && join());
    join();
    return;
  }
  lease(name, onRole, report);
}

function lease(name: string, onRole: (leading: boolean) => void, report: Report): void {
  const tab = uuidv7();
  let leading: boolean | null = null;
  const renew = () => {
    // Storage blocked: no tab can see another, so each one sends its own in-memory queue. It fails
    // every renewal, and guard() tells it once, not every second for the page's life.
    const ok =
      guard(report, LOCAL, () => {
        const [holder, until] = (localStorage.getItem(name) ?? '').split('|');
        if (holder !== tab && Number(until) > Date.now()) return false;
        localStorage.setItem(name, `${tab}|${Date.now() + LEASE_MS}`);
        return true;
      }) ?? true;
    // Two tabs writing in the same instant both lead until the next renewal shows one of them the
    // other's lease: at worst a batch is sent twice, and the collector's dedup absorbs it.
    if (ok !== leading) {
      leading = ok;
      onRole(ok);
    }
  };
  setInterval(renew, LEASE_MS / 3);
  renew();
  // A page that goes lets go of its lease: the tab's next page (or another tab) waited it out,
  // sending nothing for up to LEASE_MS. Restored from the back/forward cache, it asks again at
  // once rather than lead beside a tab that took the lease meanwhile.
  addEventListener('pagehide', () =>
    guard(report, LOCAL, () => localStorage.getItem(name)?.startsWith(tab) && localStorage.removeItem(name)),
  );
  addEventListener('pageshow', renew);
}
