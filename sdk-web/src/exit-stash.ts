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
 * One tab's page-exit stash for one source, and the events it would hold: those whose IndexedDB
 * write has not committed yet.
 */
export class ExitStash {
  /** Handed to IndexedDB, write not committed: what page exit must stash. */
  readonly unsaved = new Map<string, string>();
  #written = false;

  constructor(
    readonly key: string,
    readonly report: Report,
  ) {}

  /**
   * Runs `append` now, not in a later microtask: the storage takes changes in call order, and the
   * send queue may remove the event (acknowledged, or dropped past the bound) at once. The event is
   * unsaved until the batch holding its write committed.
   */
  persist(id: string, json: string, append: () => void | PromiseLike<void>): Promise<void> {
    const unsaved = this.unsaved;
    unsaved.set(id, json);
    return new Promise<void>((resolve) => resolve(append())).then(() => {
      unsaved.delete(id);
      // The page lived on (a tab switch, a cancelled navigation): the stash is in the queue now.
      if (this.#written && !unsaved.size) this.write([]);
    });
  }

  /** Page exit: stashes `parked` and the unsaved events, or removes the stash when there are none. */
  write(parked: Pending): void {
    const pending = [...parked, ...this.unsaved];
    if (!pending.length && !this.#written) return;
    this.#written = pending.length > 0;
    writeStash(this.key, pending, this.report);
  }
}

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
