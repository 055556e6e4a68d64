import { type JsonObject, KimlikError, uuidv7 } from '@kimlik/core';
import { WEB_ERROR_CODES } from './errors.js';

/** Storage faults are reported, never thrown: private mode and blocked storage degrade to memory. */
export type Report = (error: KimlikError) => void;

/**
 * Runs `fn` on `what` ('cookie', 'localStorage'); a throw (SecurityError, QuotaExceededError) is
 * reported, with the browser's error as `cause`, and `fallback` returned.
 */
export function guard<T>(report: Report, what: string, fn: () => T, fallback: T): T {
  try {
    return fn();
  } catch (cause) {
    report(new KimlikError(WEB_ERROR_CODES.STORAGE, `${what} failed, keeping data in memory`, { cause }));
    return fallback;
  }
}

export interface UserState {
  anonymousId: string;
  userId: string | null;
  traits: JsonObject;
}

const COOKIE = 'cookie';
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
  state: UserState;
  /** False after consent was denied: nothing is written to the device. */
  persist = true;
  readonly #aidKey: string;
  readonly #userKey: string;
  #domain: string | null = null;
  readonly #cookieDomain: string;
  readonly #cookieDays: number;
  readonly #report: Report;

  constructor(prefix: string, cookieDomain: string, cookieDays: number, report: Report) {
    this.#cookieDomain = cookieDomain;
    this.#cookieDays = cookieDays;
    this.#report = report;
    this.#aidKey = `${prefix}_aid`;
    this.#userKey = `${prefix}_user`;
    const cookie = guard(report, COOKIE, () => readCookie(this.#aidKey), null);
    const stored = guard(report, LOCAL, () => localStorage.getItem(this.#aidKey), null);
    const user = guard(
      report,
      LOCAL,
      () => JSON.parse(localStorage.getItem(this.#userKey) || '{}') as Partial<UserState>,
      {},
    );
    this.state = {
      anonymousId: cookie || stored || uuidv7(),
      userId: typeof user.userId === 'string' ? user.userId : null,
      traits: user.traits && typeof user.traits === 'object' ? user.traits : {},
    };
    this.save();
  }

  save(): void {
    if (!this.persist) return;
    const { anonymousId, userId, traits } = this.state;
    this.#writeCookie(anonymousId, this.#cookieDays * 86_400);
    guard(
      this.#report,
      LOCAL,
      () => {
        localStorage.setItem(this.#aidKey, anonymousId);
        localStorage.setItem(this.#userKey, JSON.stringify({ userId, traits }));
      },
      undefined,
    );
  }

  /** Logout: a new anonymous ID, user and traits cleared. */
  reset(): void {
    this.state = { anonymousId: uuidv7(), userId: null, traits: {} };
    this.save();
  }

  /** Consent denied: removes what is stored on the device and stops writing it. */
  forget(): void {
    this.#writeCookie('', 0);
    guard(
      this.#report,
      LOCAL,
      () => {
        localStorage.removeItem(this.#aidKey);
        localStorage.removeItem(this.#userKey);
      },
      undefined,
    );
    this.persist = false;
    this.state = { anonymousId: uuidv7(), userId: null, traits: {} };
  }

  #writeCookie(value: string, maxAgeSeconds: number): void {
    guard(
      this.#report,
      COOKIE,
      () => {
        this.#domain ??= this.#cookieDomain || probeCookieDomain(location.hostname, `${this.#aidKey}_probe`);
        const secure = location.protocol === 'https:' ? ';secure' : '';
        const domain = this.#domain ? `;domain=${this.#domain}` : '';
        // biome-ignore lint/suspicious/noDocumentCookie: the Cookie Store API is async and missing in Firefox and Safari
        document.cookie = `${this.#aidKey}=${encodeURIComponent(value)};path=/;max-age=${maxAgeSeconds};samesite=lax${domain}${secure}`;
      },
      undefined,
    );
  }
}
