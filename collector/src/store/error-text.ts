/**
 * An error's text, also for one that lost its message crossing from a worker thread (better-sqlite3's
 * SqliteError arrives as `{code}` alone) or that is no Error: "commit failed: undefined" told no one anything.
 */
export function errorText(err: unknown): string {
  const e = err as { message?: unknown; code?: unknown } | null | undefined;
  const message = typeof e?.message === 'string' && e.message !== '' ? e.message : undefined;
  const code = typeof e?.code === 'string' ? e.code : undefined;
  if (message !== undefined) return message;
  if (code !== undefined) return code;
  return typeof err === 'object' && err !== null ? JSON.stringify(err) : String(err);
}
