/**
 * Calls `onNavigate` with the new URL and the one before it (the SPA's referrer) after each
 * client-side navigation that changes the URL. The History API has no event for
 * pushState/replaceState, so both are wrapped; popstate covers back/forward. A replaceState that
 * keeps the URL (routers store scroll state that way) is not a page view.
 */
export function watchHistory(onNavigate: (url: string, referrer: string) => void): void {
  let last = location.href;
  const check = () => {
    const referrer = last;
    if (location.href === last) return;
    last = location.href;
    onNavigate(last, referrer);
  };
  for (const method of ['pushState', 'replaceState'] as const) {
    const original = history[method];
    history[method] = function (this: History, ...args: Parameters<History['pushState']>) {
      const result = original.apply(this, args);
      check();
      return result;
    };
  }
  addEventListener('popstate', check);
}
