import type { Properties } from '@kimlik/core';
import { Client, type Plugin } from './client.js';
import { type CallSite, callSite } from './context.js';
import type { UserState } from './identity.js';
import type { ConsentState, WebOptions } from './options.js';

/**
 * The public API: `window.kimlik` in the script-tag build, `kimlik` in the ESM build. Methods
 * without a result return the API itself (chainable, like the snippet's stub).
 */
export interface Api {
  /**
   * Starts the SDK. The only method that throws: on invalid options (`InvalidOptionError`). On a
   * server (no page) it does nothing, as every call there.
   */
  init(options: WebOptions): Api;
  /** `properties` are sent as a JSON copy taken at the call (a Date as its ISO string). */
  track(event: string, properties?: Properties): Api;
  /**
   * Sets the user (when given) and merges traits (`email` among them); both persist until
   * `reset()`. A different user than the current one starts with no traits.
   */
  identify(userId?: string | null, traits?: Properties): Api;
  /** Segment's form: traits of the current user. */
  identify(traits: Properties): Api;
  /** A page view; `properties` default to the page's url, path, referrer, title and search. */
  page(name?: string | null, properties?: Properties): Api;
  /** Segment's form: `category` is added to the properties. */
  page(category: string | null, name: string, properties?: Properties): Api;
  /** Segment's form: a page view without a name. */
  page(properties: Properties): Api;
  group(groupId: string, traits?: Properties): Api;
  /** Links the current identity (or `previousId`) to `userId`, which becomes the current user. */
  alias(userId: string, previousId?: string): Api;
  /** Logout: a new anonymous ID, user and traits cleared. */
  reset(): Api;
  /** Sends what is queued now; resolves when acknowledged (or after `flushTimeoutMs`). */
  flush(): Promise<void>;
  consent(state: ConsentState): Api;
  user(): UserState;
  use(plugin: Plugin): Api;
  /** Resolves (and calls `callback`) once storage is open and the tab knows whether it sends. */
  ready(callback?: () => void): Promise<void>;
}

/**
 * What the snippet leaves on `window.kimlik` before the bundle loads: recorded calls, each with
 * the time and page of the call (`Partial`: pages may carry an older snippet that recorded none).
 */
export type KimlikStub = ([string, ...unknown[]] & Partial<CallSite> & { r?: (value: unknown) => void })[] & {
  invoked?: boolean;
};

const METHODS = [
  'init',
  'track',
  'identify',
  'page',
  'group',
  'alias',
  'reset',
  'flush',
  'consent',
  'user',
  'use',
  'ready',
] as const;

/**
 * A guarded instance: after `init()` nothing throws into the page, failures go to `onError`.
 * Calls made before `init()` are kept and replayed in order right after it.
 */
export function createKimlik(): Api {
  return wrap(new Client());
}

/** The API over `client` (the script tag keeps the client to replay the stub's calls). */
export function wrap(client: Client): Api {
  /** Calls before init(): method, arguments, call site, and for flush()/ready() what settles its promise. */
  const early: [keyof Api, unknown[], CallSite | undefined, ((done: unknown) => void)?][] = [];
  /** A server render imports the SDK too: no page, so its calls do nothing (init() included). */
  const server = typeof document !== 'object';
  /** Set when init() failed (invalid options) or on a server: nothing will be sent, so nothing waits or is kept. */
  let failed = server;
  /** The page's first instance over the same storage, when this one started second: it gets the calls. */
  let to: Api | undefined;
  const api = {} as Record<keyof Api, (...args: unknown[]) => unknown>;
  const keep = (method: keyof Api, args: unknown[]) => {
    // A call kept for init() keeps when and where it was made, as a call the stub recorded does.
    const at = client.at ?? (server ? undefined : callSite());
    if (method === 'flush' || method === 'ready')
      return new Promise((settle) => (failed ? settle(undefined) : early.push([method, args, at, settle])));
    if (!failed) early.push([method, args, at]);
  };
  for (const method of METHODS) {
    api[method] = (...args: unknown[]): unknown => {
      if (to) return (to[method] as (...a: unknown[]) => unknown)(...args);
      if (method === 'init') {
        if (server) return api;
        const first = !client.o;
        try {
          to = client.init(args[0] as WebOptions, api as unknown as Api);
        } catch (e) {
          failed = true;
          for (const [, , , settle] of early.splice(0)) settle?.(undefined);
          throw e;
        }
        failed = false;
        for (const [m, a, at, settle] of early.splice(0)) {
          client.at = at;
          // A flush() or ready() made early resolves with the real one (its callback is the early call's).
          const done = api[m]?.(...(settle ? [] : a));
          settle?.(done);
        }
        // The load's own page view: after the calls made before init(), so their plugins and
        // identify apply to it.
        client.at = client.landing;
        if (first && !to && client.o?.autoPage) client.guard(() => client.page());
        client.at = undefined;
        return api;
      }
      // use() waits too: a plugin added after a call must not apply to that call's event.
      const result = client.o
        ? client.guard(() => (client[method] as (...a: unknown[]) => unknown)(...args))
        : keep(method, args);
      if (method === 'flush' || method === 'ready') {
        const done = Promise.resolve(result);
        const callback = args[0];
        if (typeof callback === 'function') void done.then(() => client.guard(callback as () => void));
        return done.catch((e: unknown) => client.report(e));
      }
      // Chainable, as the snippet's stub is: code written against either works against both.
      return method === 'user' ? (result ?? client.user()) : api;
    };
  }
  return api as unknown as Api;
}
