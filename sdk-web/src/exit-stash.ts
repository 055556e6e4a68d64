import { KimlikError } from '@kimlik/core';
import { WEB_ERROR_CODES } from './errors.js';
import { guard, LOCAL, type Report } from './identity.js';

/** Queued events as `[messageId, json]`. */
export type Pending = [string, string][];

/**
 * Most characters one tab's stash may take: localStorage holds about 5 M characters per origin,
 * shared with the identity keys and other tabs' stashes.
 */
const STASH_CHARS = 1_000_000;

/**
 * Page exit: IndexedDB writes are asynchronous and a navigating page is torn down before they
 * commit, so events not yet committed are written synchronously to localStorage under `key` (one
 * key per tab and source). The newest are kept when they do not all fit. The next load of the
 * source takes them back (`takeStashes`); the messageIds are the ones already made, so any
 * event that also reached the queue or the collector is stored once.
 */
export function writeStash(key: string, pending: Pending, report: Report): void {
  let i = pending.length;
  let chars = 2;
  // ~40 characters of [id, …] framing per event besides the JSON itself.
  for (; i; i--) {
    chars += (pending[i - 1] as [string, string])[1].length + 42;
    if (chars > STASH_CHARS) break;
  }
  if (i) {
    report(new KimlikError(WEB_ERROR_CODES.STORAGE, `page exit: ${i} events lost, localStorage full`));
  }
  guard(report, LOCAL, () =>
    i < pending.length ? localStorage.setItem(key, JSON.stringify(pending.slice(i))) : localStorage.removeItem(key),
  );
}

/**
 * Takes (reads and removes, in one task, so two loading tabs do not both merge one stash) every
 * stash whose key starts with `prefix`, oldest event first.
 */
export function takeStashes(prefix: string, report: Report): Pending {
  const taken: Pending = [];
  guard(report, LOCAL, () => {
    for (let i = localStorage.length; i--; ) {
      const key = localStorage.key(i);
      if (!key?.startsWith(prefix)) continue;
      const value = localStorage.getItem(key);
      localStorage.removeItem(key);
      taken.push(...(JSON.parse(value ?? '[]') as Pending));
    }
  });
  return taken.sort((a, b) => (a[0] < b[0] ? -1 : 1));
}
