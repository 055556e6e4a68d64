import { InvalidOptionError } from '@kimlik/core';

/**
 * Names other Node SDKs use (Segment's analytics-node, posthog-node, RudderStack's
 * rudder-sdk-node) and what to write here instead. An unknown option is refused: ignored, a
 * `host` would silently send every event to the default endpoint.
 */
const PEER_NAMES: Readonly<Record<string, readonly [peers: string, instead: string]>> = {
  host: ["Segment's and PostHog's", 'endpoint'],
  dataPlaneUrl: ["RudderStack's", 'endpoint'],
  apiHost: ["PostHog's", 'endpoint'],
  api_host: ["PostHog's", 'endpoint'],
  url: ['', 'endpoint'],
  apiKey: ["PostHog's", 'writeKey'],
  flushInterval: ["Segment's, PostHog's and RudderStack's", 'flushIntervalMs'],
  maxEventsInBatch: ["Segment's", 'maxBatchEvents'],
  maxBatchSize: ["PostHog's", 'maxBatchEvents'],
  maxQueueSize: ["PostHog's", 'maxQueueEvents'],
  maxInternalQueueSize: ["RudderStack's", 'maxQueueEvents'],
  httpRequestTimeout: ["Segment's", 'requestTimeoutMs'],
  requestTimeout: ["PostHog's", 'requestTimeoutMs'],
  timeout: ["RudderStack's", 'requestTimeoutMs'],
  fetchRetryCount: ["PostHog's", 'maxRetries'],
  retryCount: ['', 'maxRetries'],
  fetchRetryDelay: ["PostHog's", 'retryBaseMs'],
  errorHandler: ["RudderStack's", 'onError'],
};

/** Peer options with no counterpart, and why. */
const NO_COUNTERPART: Readonly<Record<string, string>> = {
  path: "batches always go to {endpoint}/v1/batch; a proxy's path prefix belongs in endpoint, e.g. endpoint: 'https://example.com/kimlik'",
  gzip: 'write gzipLevel: 0 to send bodies uncompressed, or 1 to 9 (default 6)',
  disable: 'there is no switch: where events must not be sent, do not create the client',
  disabled: 'there is no switch: where events must not be sent, do not create the client',
  enable: 'there is no switch: where events must not be sent, do not create the client',
  httpClient:
    'the transport is built in (node:http with keep-alive); point endpoint at a proxy if requests must go through one',
  logLevel: 'trouble goes to onWarn and onError; pass your logger there',
  logger: 'trouble goes to onWarn and onError; pass your logger there',
};

function quote(value: unknown): string {
  return typeof value === 'string' ? `'${value}'` : typeof value === 'number' ? String(value) : '…';
}

/**
 * Throws `InvalidOptionError` for the first key of `options` not in `known`, saying what to
 * write instead when another SDK uses that name. `prefix` names a nested object (`spool.`).
 */
export function refuseUnknownOptions(options: object, known: ReadonlySet<string>, prefix = ''): void {
  for (const [key, value] of Object.entries(options)) {
    if (known.has(key)) continue;
    const peer = prefix === '' ? PEER_NAMES[key] : undefined;
    const other = prefix === '' ? NO_COUNTERPART[key] : undefined;
    const hint = peer
      ? `unknown option${peer[0] && ` (${peer[0]} name)`}; write ${peer[1]}: ${quote(value)}`
      : other
        ? `unknown option; ${other}`
        : `unknown option; the options are ${[...known].map((k) => prefix + k).join(', ')}`;
    throw new InvalidOptionError(prefix + key, hint);
  }
}
