/**
 * The script-tag (IIFE) entry: `<script src=".../kimlik.js" data-write-key="…">`, alone or loaded
 * by the snippet. Installs `window.kimlik` and replays the calls the snippet's stub recorded, each
 * with the time and page it was made at.
 * Options come from `init()` calls recorded by the stub, then `data-*` attributes
 * (`data-endpoint`, `data-auto-page="false"`, `data-flush-at="10"`, …); the endpoint defaults to
 * the origin the script was loaded from.
 */
import { type Api, type KimlikStub, wrap } from './api.js';
import { Client } from './client.js';
import { type CallSite, callSite } from './context.js';
import type { WebOptions } from './options.js';

const w = window as unknown as { kimlik?: KimlikStub | Api };
const script = document.currentScript as HTMLScriptElement | null;
const found = w.kimlik;
// Anything else on window.kimlik (an element with id="kimlik", which browsers expose there) is
// not the SDK: it is replaced.
const stub = Array.isArray(found) ? found : undefined;

if (stub || typeof (found as Api | undefined)?.init !== 'function') {
  const client = new Client();
  const api = wrap(client);
  // The load's page view is of the URL the page was loaded at: a router may have rewritten it
  // (history.replaceState dropping utm_*) while the bundle loaded, with the snippet or a deferred
  // tag. The navigation entry keeps it.
  client.landing = callSite((performance.getEntriesByType('navigation')[0] as PerformanceEntry | undefined)?.name);
  const calls: KimlikStub = stub ? stub.slice() : [];
  w.kimlik = api;
  const options: Record<string, unknown> = { endpoint: script?.src && new URL(script.src).origin };
  for (const [key, value] of Object.entries(script?.dataset ?? {})) {
    // data-* values are strings: "false" and "10" mean the boolean and the number.
    options[key] =
      key === 'writeKey'
        ? value
        : value === 'true' || (value !== 'false' && (/^\d+$/.test(value ?? '') ? +(value as string) : value));
  }
  // Calls other than init() wait inside the API until init() runs, which replays them in order.
  for (const call of calls) {
    const [method, ...args] = call;
    if (method === 'init') Object.assign(options, args[0]);
    else {
      client.at = call.u ? (call as CallSite) : undefined;
      const result = (api[method as keyof Api] as (...a: unknown[]) => unknown)?.(...args);
      // The stub's ready()/flush() promise settles with the SDK's.
      if (call.r) void Promise.resolve(result).then(call.r);
    }
  }
  client.at = undefined;
  try {
    if (options.writeKey) api.init(options as unknown as WebOptions);
  } catch (error) {
    // An invalid option must not break the host page; say what is wrong where the developer looks.
    console.error('[kimlik]', error);
  }
  // Code that kept a reference to the stub (`const k = window.kimlik`) now reaches the real SDK.
  if (stub) Object.assign(stub, api);
}
