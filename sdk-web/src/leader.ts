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
  const hold = () => {
    onRole(true);
    // Held until the tab goes away.
    return new Promise<void>(() => undefined);
  };
  if (locks) {
    locks
      .request(name, { ifAvailable: true }, (lock) => {
        if (lock) return hold();
        onRole(false);
        return locks.request(name, hold);
      })
      .catch((cause: unknown) => {
        report(new KimlikError(WEB_ERROR_CODES.LEADER, 'Web Locks failed, using a localStorage lease', { cause }));
        lease(name, onRole, report);
      });
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
}
