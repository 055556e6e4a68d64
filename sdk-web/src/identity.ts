import { type JsonObject, KimlikError, uuidv7 } from '@kimlik/core';
import { WEB_ERROR_CODES } from './errors.js';
import type { ResolvedWebOptions } from './options.js';

/** Storage faults are reported, never thrown: private mode and blocked storage degrade to memory. */
export type Report = (error: KimlikError) => void;

/** The storages that failed on this page: blocked storage fails every access, and is told once. */
const failed: Record<string, 1> = {};

/**
 * Runs `fn` on `what` ('cookie', 'localStorage'); a throw (SecurityError, QuotaExceededError) is
 * reported, the first of the page only, with the browser's error as `cause`, and undefined returned.
 */
export function guard<T>(report: Report, what: string, fn: () => T): T | undefined {
  try {
    return fn();
  } catch (cause) {
    if (!failed[what]) report(storageFailed(what, cause));
    failed[what] = 1;
    return undefined;
  }
}

/** The report when `what` (cookie, localStorage, IndexedDB) refused: the SDK keeps that data in memory. */
export const storageFailed = (what: string, cause: unknown): KimlikError =>
  new KimlikError(WEB_ERROR_CODES.STORAGE, `${what} failed, keeping data in memory`, { cause });

export interface UserState {
  anonymousId: string;
  userId: string | null;
  traits: JsonObject;
}

const COOKIE = 'cookie';
/** The cookie's value after a refusal (no ID is ever this). */
const REFUSED = 'denied';
export const LOCAL = 'localStorage';

const readCookie = (name: string): string | null => {
  const m = document.cookie.match(new RegExp(`(?:^|; )${name}=([^;]*)`));
  return m ? decodeURIComponent(m[1] as string) : null;
};

/**
 * The highest domain that accepts a cookie: the top registrable domain. Browsers refuse a cookie for
 * a public suffix (co.uk, github.io), so probing from the shortest candidate finds the site's own
 * domain without shipping the public-suffix list. IPs and single-label hosts get a host-only cookie.
 */
export function probeCookieDomain(host: string, probe: string): string {
  const parts = host.split('.');
  if (parts.length < 2 || /^[\d.]+$|:/.test(host)) return '';
  for (let i = parts.length - 2; i >= 0; i--) {
    const domain = parts.slice(i).join('.');
    // biome-ignore lint/suspicious/noDocumentCookie: the Cookie Store API is async and missing in Firefox and Safari
    document.cookie = `${probe}=1;path=/;domain=${domain}`;
    if (readCookie(probe)) {
      // biome-ignore lint/suspicious/noDocumentCookie: the Cookie Store API is async and missing in Firefox and Safari
      document.cookie = `${probe}=;path=/;domain=${domain};max-age=0`;
      return domain;
    }
  }
  return '';
}

/**
 * The device's identity: anonymous ID in a first-party cookie on the top registrable domain (so
 * subdomains share it) mirrored in localStorage (so a cleared cookie does not mint a new one); the
 * cookie wins when they disagree. userId and traits live in localStorage until `reset()`.
 */
export class IdentityStore {
  state!: UserState;
  /** False after consent was denied: nothing is written to the device. */
  persist = true;
  /** The cookie holds a refusal made on another page of the site (`forget(true)`), not an ID. */
  refused = false;
  readonly #o: Pick<ResolvedWebOptions, 'cookieDomain' | 'cookieDays'>;
  readonly #report: Report;
  readonly #aidKey: string;
  readonly #userKey: string;
  #domain: string | null = null;
  /** The ID cookie as this page last read or wrote it. */
  #cookie: string | null | undefined;

  constructor(o: Pick<ResolvedWebOptions, 'storagePrefix' | 'cookieDomain' | 'cookieDays'>, report: Report) {
    this.#o = o;
    this.#report = report;
    this.#aidKey = `${o.storagePrefix}_aid`;
    this.#userKey = `${o.storagePrefix}_user`;
    this.load();
    this.save();
  }

  /**
   * Reads the stored identity, the cookie winning for the anonymous ID, without writing: also when
   * another tab changed it (a logout there must not be undone by this tab's next save).
   */
  load(): void {
    const report = this.#report;
    const aidKey = this.#aidKey;
    let cookie = guard(report, COOKIE, () => readCookie(aidKey));
    this.#cookie = cookie;
    this.refused = cookie === REFUSED;
    if (this.refused) cookie = null;
    const local = guard(report, LOCAL, () => localStorage.getItem(aidKey));
    // A cookie that changed under this origin's copy is another subdomain's reset() (a logout):
    // the user stored here was that device's previous user, not the next visitor.
    const moved = cookie && local && cookie !== local;
    const user: Partial<UserState> =
      (!moved && guard(report, LOCAL, () => JSON.parse(localStorage.getItem(this.#userKey) || '{}'))) || {};
    this.state = {
      anonymousId: cookie || local || uuidv7(),
      userId: typeof user.userId === 'string' ? user.userId : null,
      traits: user.traits && typeof user.traits === 'object' ? user.traits : {},
    };
  }

  /** The site's cookie holds a refusal now: made on another subdomain, which no channel reaches. */
  denied(): boolean {
    return guard(this.#report, COOKIE, () => readCookie(this.#aidKey)) === REFUSED;
  }

  /** True for the localStorage keys this store writes (another tab's change to reload). */
  owns(key: string | null): boolean {
    return key === null || key === this.#aidKey || key === this.#userKey;
  }

  save(): void {
    if (this.persist) this.#write(true);
  }

  /** Logout: a new anonymous ID, user and traits cleared. */
  reset(): void {
    this.state = { anonymousId: uuidv7(), userId: null, traits: {} };
    this.save();
  }

  /**
   * Consent denied: removes what is stored on the device and stops writing it. A refusal to
   * `remember` (the page's, not a privacy signal read on each load) replaces the ID in the cookie,
   * so the site's other subdomains start refused too instead of writing the ID back.
   */
  forget(remember?: boolean): void {
    this.#write(false, remember);
    this.persist = false;
    this.reset();
  }

  #write(keep: boolean, remember?: boolean): void {
    const { anonymousId, userId, traits } = this.state;
    const aidKey = this.#aidKey;
    const userKey = this.#userKey;
    guard(this.#report, COOKIE, () => {
      // Changed by another subdomain since this page read it (a logout, a refusal): not this
      // page's to overwrite with the identity it still holds; its next load adopts the change.
      const now = readCookie(aidKey);
      if (keep && now && now !== this.#cookie) return;
      this.#domain ??= this.#o.cookieDomain || probeCookieDomain(location.hostname, `${aidKey}_probe`);
      const secure = location.protocol === 'https:' ? ';secure' : '';
      const domain = this.#domain ? `;domain=${this.#domain}` : '';
      const value = keep ? encodeURIComponent(anonymousId) : remember ? REFUSED : '';
      // biome-ignore lint/suspicious/noDocumentCookie: the Cookie Store API is async and missing in Firefox and Safari
      document.cookie = `${aidKey}=${value};path=/;max-age=${value ? this.#o.cookieDays * 86_400 : 0};samesite=lax${domain}${secure}`;
      this.#cookie = value;
    });
    guard(this.#report, LOCAL, () => {
      if (!keep) for (const key of [aidKey, userKey]) localStorage.removeItem(key);
      else {
        localStorage.setItem(aidKey, anonymousId);
        localStorage.setItem(userKey, JSON.stringify({ userId, traits }));
      }
    });
  }
}
