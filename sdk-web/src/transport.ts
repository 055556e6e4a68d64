import {
  batchJson,
  parseRetryAfter,
  type Rejection,
  TransportError,
  type TransportResult,
  utf8Length,
} from '@kimlik/core';

const TEXT = 'text/plain;charset=UTF-8';

/** One POST for both paths; `keepalive` lets it outlive the page (at exit). */
const post = (url: string, body: BodyInit, keepalive?: boolean) =>
  fetch(url, { method: 'POST', headers: { 'content-type': TEXT }, body, credentials: 'omit', keepalive });

/**
 * POSTs one batch body (built by the send queue, write key included). text/plain makes it a "simple"
 * CORS request that needs no preflight; sendBeacon could not set an Authorization header anyway.
 * Resolves with the collector's per-event verdict (a 400 that lists the refused events is a
 * verdict too); throws `TransportError` otherwise, retryable on network errors, 408, 429 and 5xx.
 */
export async function postBatch(url: string, body: BodyInit): Promise<TransportResult> {
  let res: Response;
  try {
    res = await post(url, body);
  } catch (cause) {
    throw new TransportError('The collector could not be reached', { retryable: true, cause });
  }
  // A proxy's HTML error page is not JSON; the status alone decides then.
  const json = (await res.json().catch(() => ({}))) as {
    rejected?: Rejection[];
    error?: { message?: string; rejected?: Rejection[] };
  };
  const { status } = res;
  const rejected = res.ok ? (json.rejected ?? []) : status === 400 && json.error?.rejected;
  if (rejected) return { rejected };
  throw new TransportError(`The collector answered ${status}: ${json.error?.message ?? res.statusText}`, {
    status,
    retryable: status === 408 || status === 429 || status >= 500,
    // The collector lets cross-origin pages read Retry-After (Access-Control-Expose-Headers).
    retryAfterMs: parseRetryAfter(res.headers.get('retry-after')),
  });
}

/**
 * Fire-and-forget delivery while the page goes away. Browsers allow 64 KB in flight for all
 * keepalive requests and beacons of a page together, so the caller passes its share in `budget`.
 * `jsons` are oldest first; the newest that fit are sent (in that order), so the page's last
 * actions (the purchase before the navigation) leave now even behind a backlog the collector has
 * been refusing. Returns how many were handed to the browser; all stay queued, unconfirmed, and
 * the next load re-sends them with the same messageIds.
 */
export function sendOnExit(url: string, jsons: string[], bodySuffix: string, budget: number): number {
  let i = jsons.length;
  let bytes = 64 + bodySuffix.length;
  for (; i; i--) {
    bytes += utf8Length(jsons[i - 1] as string) + 1;
    if (bytes > budget) break;
  }
  const n = jsons.length - i;
  if (!n) return 0;
  const body = batchJson(jsons.slice(i), new Date().toISOString(), bodySuffix);
  if (navigator.sendBeacon?.(url, new Blob([body], { type: TEXT }))) return n;
  // Nobody is left to hear a failure: the events stay queued and the next load re-sends them.
  post(url, body, true).catch(() => undefined);
  return n;
}
