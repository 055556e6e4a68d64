/**
 * Codes of the browser SDK's own reports to `onError` (besides core's `KIMLIK_DELIVERY_…` codes).
 * Stable and never reused, like core's `ERROR_CODES`.
 */
export const WEB_ERROR_CODES = {
  /** localStorage, cookies or IndexedDB refused (private mode, blocked, quota): kept in memory. */
  STORAGE: 'KIMLIK_WEB_STORAGE_UNAVAILABLE',
  /** Web Locks failed; the tab elects a leader with a localStorage lease instead. */
  LEADER: 'KIMLIK_WEB_LEADER_ELECTION',
  /** A plugin, callback or the SDK itself threw; the call was skipped, the page was not affected. */
  UNEXPECTED: 'KIMLIK_WEB_UNEXPECTED',
} as const;
