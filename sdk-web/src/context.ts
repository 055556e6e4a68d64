import type { JsonObject } from '@kimlik/core';

export const LIBRARY_NAME = '@kimlik/web';
/** Replaced at build time by rollup with the package version. */
export const LIBRARY_VERSION = '__KIMLIK_VERSION__';

/**
 * Where and when a call was made, when that is not now and here: a call the snippet's stub
 * recorded before the bundle loaded (its time `t` in epoch ms, URL `u`, title `n`), so the
 * replayed event says when and where it was made, not when the bundle arrived; or an SPA
 * navigation, whose referrer `r` is the previous URL (document.referrer does not change in a
 * page's life).
 */
export interface CallSite {
  t: number;
  u: string;
  /** Unknown for a landing page the app routed away from before the bundle arrived. */
  n?: string;
  r?: string;
}

/** A call made now, on this page (at `u` when given). */
export const callSite = (u?: string): CallSite => ({ t: Date.now(), u: u || location.href, n: document.title });

/** Segment's `context.page`: read per event, since an SPA changes the URL without a load. */
export function pageProperties(at?: CallSite): JsonObject {
  const { href, pathname, search } = at ? new URL(at.u) : location;
  return {
    path: pathname,
    referrer: at?.r ?? document.referrer,
    search,
    title: at ? (at.n as string) : document.title,
    url: href,
  };
}

/** `utm_source` → `{source}`, `utm_campaign` → `{name}` as Segment's `context.campaign` names them. */
export function campaign(search: string): JsonObject | undefined {
  let found: JsonObject | undefined;
  new URLSearchParams(search).forEach((value, key) => {
    if (key.startsWith('utm_')) {
      found ??= {};
      found[key === 'utm_campaign' ? 'name' : key.slice(4)] = value;
    }
  });
  return found;
}

let timezone: string | undefined;

/** The Segment-spec `context` of one event. */
export function buildContext(at?: CallSite): JsonObject {
  // Intl's resolver is slow-ish and the zone rarely changes during a page's life.
  timezone ??= Intl.DateTimeFormat().resolvedOptions().timeZone;
  const page = pageProperties(at);
  const context: JsonObject = {
    library: { name: LIBRARY_NAME, version: LIBRARY_VERSION },
    page,
    userAgent: navigator.userAgent,
    locale: navigator.language,
    timezone,
    screen: { width: screen.width, height: screen.height, density: devicePixelRatio },
  };
  const utm = campaign(page.search as string);
  if (utm) context.campaign = utm;
  return context;
}
