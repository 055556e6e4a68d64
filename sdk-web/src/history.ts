/**
 * Calls `onNavigate` with the new URL and the one before it (the SPA's referrer) after each
 * client-side navigation that changes the URL. The History API has no event for
 * pushState/replaceState, so both are wrapped; popstate covers back/forward. A replaceState that
 * keeps the URL (routers store scroll state that way) is not a page view, nor is a jump to an
 * anchor (`#faq`); a hash router's route (`#/path`, `#!/path`) is. From `last` (the landing URL)
 * when given: a navigation made before this call is told at once if it changed the path or the
 * hash route. Apps tidy their URL on load (utm_* dropped, a hash router's root `#/` or `#!/`
 * added): that is the landing page still, so a query and a root hash route do not count then.
 */
export function watchHistory(onNavigate: (url: string, referrer: string) => void, last = location.href): void {
  const check = (ignored = /#(?!!?\/).*/) => {
    const referrer = last;
    last = location.href;
    if (last.replace(ignored, '') !== referrer.replace(ignored, '')) onNavigate(last, referrer);
  };
  for (const method of ['pushState', 'replaceState'] as const) {
    const original = history[method];
    history[method] = function (this: History, ...args: Parameters<History['pushState']>) {
      const result = original.apply(this, args);
      check();
      return result;
    };
  }
  // Not `check` itself: the event would be taken for the pattern.
  addEventListener('popstate', () => check());
  check(/\?[^#]*|#(?!!?\/.).*/g);
}
