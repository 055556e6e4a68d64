/**
 * Calls `onNavigate` after each client-side navigation that changes the URL. The History API has no
 * event for pushState/replaceState, so both are wrapped; popstate covers back/forward. A replaceState
 * that keeps the URL (routers store scroll state that way) is not a page view.
 */
export function watchHistory(onNavigate: () => void): void {
  let last = location.href;
  const check = () => {
    if (location.href === last) return;
    last = location.href;
    onNavigate();
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
