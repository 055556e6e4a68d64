/**
 * The methods a concrete path answers to, from the registered routes: a request with another
 * method gets 405 and an `Allow` header (RFC 9110) instead of a 404 that says the path is wrong.
 * Catch-all routes (`/v1/*` preflights, dashboard files) are left out: they would claim every path.
 */
export function methodsForPath(routes: readonly { method: string; url: string }[]): (path: string) => string[] {
  let compiled: { method: string; pattern: RegExp }[] | undefined;
  return (path) => {
    // Routes are all registered before the first request; compiled once then.
    compiled ??= routes
      .filter((r) => !r.url.includes('*'))
      .map((r) => ({
        method: r.method,
        pattern: new RegExp(`^${r.url.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/:\w+/g, '[^/]+')}/?$`),
      }));
    return [...new Set(compiled.filter((r) => r.pattern.test(path)).map((r) => r.method))].sort();
  };
}
