import { checkOneOf, ERROR_CODES, KimlikError, type Properties, type WireEvent } from '@kimlik/core';
import type { Api } from './api.js';
import { copy, isObject, pageEvent } from './call-values.js';
import { buildContext, type CallSite } from './context.js';
import { takeStashes } from './exit-stash.js';
import { watchHistory } from './history.js';
import { guard, IdentityStore, LOCAL, type UserState } from './identity.js';
import { nextMessageId } from './message-id.js';
import {
  CONSENT_STATES,
  type ConsentState,
  type ResolvedWebOptions,
  resolveOptions,
  type WebOptions,
} from './options.js';
import { TabQueue } from './tab-queue.js';

/**
 * Enrichment or filter middleware: gets each event before it is queued and returns it (changed
 * or not), or null/undefined to drop it. Synchronous: anything else returned (an async function's
 * promise) skips the event and is reported.
 */
export type Plugin = (event: WireEvent) => WireEvent | null | undefined;

/** Throws (the call is reported and dropped) when `value` names no one. */
function required(value: unknown, what: string): void {
  if (value == null || value === '') throw new KimlikError(ERROR_CODES.VALIDATION, `${what}: dropped`);
}

/** localStorage key remembering a refusal (`consent('denied')`) across loads. */
const deniedKey = (o: ResolvedWebOptions): string => `${o.storagePrefix}_consent`;

/**
 * One SDK instance, wrapped by `createKimlik()` (api.ts) so no public method throws; work that touches
 * storage or the network is deferred so `track()` costs the same at any queue length. Here: the
 * page's calls made into events, identity and consent; delivery is the base `TabQueue`'s
 * (tab-queue.ts), failures go through `Reporter` (reporter.ts).
 */
export class Client extends TabQueue {
  readonly #plugins: Plugin[] = [];
  /**
   * Set while a call the snippet's stub recorded is replayed: the time and page of that call.
   */
  at: CallSite | undefined;
  /**
   * The script tag's: the page the load's page view is of. Not an npm init()'s, which the app may
   * make on any route.
   */
  landing: CallSite | undefined;
  /**
   * Events made by the page, not yet handed to the queue (drained in a microtask or at page exit),
   * each with the number of plugins registered at its call (plugins apply in call order).
   */
  #made: [WireEvent, number][] = [];
  /** Consent is being set at load from the option or a privacy signal (read again on each load). */
  atLoad = false;

  /**
   * Starts the instance `api` wraps; returns the instance on this page with the same storagePrefix,
   * if another started first, which then gets this one's calls.
   */
  init(options: WebOptions, api: Api): Api | undefined {
    // A second init (the snippet's and a data-write-key tag, or a framework mounting twice) keeps
    // the first's options. A second instance over the same storage (the script tag's and an npm
    // init()) kept the identity in memory, each undoing the other's identify, and each sent the
    // load's page view: its calls go to the first. Said, not thrown, as the page may not expect it.
    const o = this.o || resolveOptions(options, location.origin);
    this.o = o;
    // Symbol.for() reaches an instance of another bundle on the page.
    const key = Symbol.for(`${o.storagePrefix}_sdk`);
    const page = globalThis as { [key: symbol]: Api };
    const first = page[key];
    if (first) {
      this.report(
        new KimlikError(ERROR_CODES.INVALID_OPTION, `init() ran already for storagePrefix '${o.storagePrefix}'`),
      );
      return first === api ? undefined : first;
    }
    page[key] = api;
    this.id = new IdentityStore(o, this.report);
    const nav = navigator as Navigator & { globalPrivacyControl?: boolean };
    // window.doNotTrack: Safari and old Edge never had navigator.doNotTrack.
    const dnt = nav.doNotTrack ?? (window as { doNotTrack?: string }).doNotTrack;
    const signal = o.respectPrivacySignals && (nav.globalPrivacyControl || dnt === '1');
    // A denial the visitor gave on an earlier page holds until the page asks again: the option is
    // only what a visitor who has not refused starts with.
    const refused =
      (this.id as IdentityStore).refused ||
      guard(this.report, LOCAL, () => localStorage.getItem(deniedKey(o))) === 'denied';
    // Denied at load by the option or a privacy signal, not by the visitor: not written for the site.
    this.atLoad = !refused;
    this.setConsent(signal || refused ? 'denied' : o.consent);
    this.atLoad = false;
    // Another tab's identify/alias/reset (logout) holds here too, from this tab's next event on:
    // a tab that kept the old identity in memory would send as the old user and write it back.
    // A clear (key null) is the site's own localStorage.clear(), not a logout: this tab writes the
    // identity back for every tab (reloaded, it found none and logged the user out).
    addEventListener('storage', ({ key }) => {
      const id = this.id;
      if (id?.persist && id.owns(key)) key ? id.load() : id.save();
    });
    if (o.autoPage) {
      // The page view of the load itself is made by api.ts, after the calls made before init().
      // From the landing URL: a route the app moved to before the bundle arrived (a new path or hash
      // route) is a page view too, told at once, before api.ts makes the landing page's view. Then
      // the title is the routed page's; the landing page's is unknown, so that view has none.
      watchHistory((u, r) => {
        delete this.landing?.n;
        const t = Date.now();
        // Routers set the new page's title after pushState: it is read a task later.
        setTimeout(() =>
          this.guard(() => {
            this.at = { t, u, n: document.title, r };
            this.page();
            this.at = undefined;
          }),
        );
      }, this.landing?.u);
    }
    this.startQueue();
  }

  /**
   * Builds the event now (the page and time of the call, a copy of what the page passed), queues
   * it later. `fields` may name the user (alias); otherwise the current one is the event's.
   */
  #add(fields: WireEvent): void {
    if (this.consentState === 'denied') return;
    const { anonymousId, userId } = (this.id as IdentityStore).state;
    const at = this.at;
    const event: WireEvent = {
      anonymousId,
      ...(userId ? { userId } : {}),
      ...copy(fields),
      messageId: nextMessageId(),
      timestamp: new Date(at ? at.t : Date.now()).toISOString(),
      context: buildContext(at),
    };
    if (this.#made.push([event, this.#plugins.length]) === 1) queueMicrotask(() => this.guard(() => this.drain()));
  }

  /** Runs the plugins registered before each call and hands events to the queue, in call order. */
  protected override drain(): void {
    for (const [made, plugins] of this.#made.splice(0)) {
      // Read first: plugins get the event itself and may change it in place.
      const id = made.messageId as string;
      let event: WireEvent | null | undefined = made;
      // null drops the event; so does a plugin that throws (reported), rather than sending it unfiltered.
      for (let i = 0; event && i < plugins; i++) {
        const plugin = this.#plugins[i] as Plugin;
        event = this.guard(() => {
          const result: unknown = plugin(event as WireEvent);
          if (result == null || (isObject(result) && !result.then)) return result as WireEvent | null | undefined;
          // An async plugin's promise (Segment's plugins are async) was spread into an event of its
          // messageId alone. Its rejection would reach the page: caught, the skipped call being
          // reported once here.
          (result as Partial<PromiseLike<unknown>>).then?.(undefined, String);
          throw Error('plugin returned no event: plugins are synchronous');
        });
      }
      // The messageId is the one set when the call was made, whatever a plugin returned.
      const json = event && this.guard(() => JSON.stringify({ ...event, messageId: id }));
      if (json) this.hand(id, json);
    }
  }

  track(event: string, properties?: Properties): void {
    this.#add({ type: 'track', event, properties: properties ?? {} });
  }

  /** Also Segment's `identify(traits)`: traits only, the user unchanged. */
  identify(userId?: string | null | Properties, traits?: Properties): void {
    const id = this.id as IdentityStore;
    const { state } = id;
    if (isObject(userId)) {
      traits = userId;
      userId = null;
    }
    // Copied before anything changes: a value JSON cannot carry drops the whole call.
    const added = copy(isObject(traits) ? traits : {});
    if (userId != null && userId !== '') {
      // Another user on this device (no reset() between): the previous user's traits are not theirs.
      if (state.userId !== null && state.userId !== String(userId)) state.traits = {};
      state.userId = String(userId);
    }
    state.traits = { ...state.traits, ...added };
    id.save();
    this.#add({ type: 'identify', traits: state.traits });
  }

  /** Also Segment's `page(category, name, properties)`. */
  page(name?: string | Properties | null, properties?: Properties | string | null, more?: Properties): void {
    this.#add(pageEvent(name, properties, more, this.at));
  }

  group(groupId: string, traits?: Properties): void {
    // Reported and dropped: a group event without an account is useless and would say "undefined".
    required(groupId, 'group() without a groupId');
    this.#add({ type: 'group', groupId: String(groupId), traits: isObject(traits) ? traits : {} });
  }

  alias(userId: string, previousId?: string): void {
    // Kept, every device calling alias() without one would become the user "undefined".
    required(userId, 'alias() without a userId');
    const id = this.id as IdentityStore;
    const { state } = id;
    this.#add({ type: 'alias', userId: String(userId), previousId: previousId ?? state.userId ?? state.anonymousId });
    state.userId = String(userId);
    id.save();
  }

  reset(): void {
    this.id?.reset();
  }

  user(): UserState {
    const s = this.id?.state;
    return { anonymousId: s?.anonymousId ?? '', userId: s?.userId ?? null, traits: copy(s?.traits ?? {}) };
  }

  use(plugin: Plugin): void {
    if (typeof plugin === 'function') this.#plugins.push(plugin);
  }

  consent(state: ConsentState): void {
    // A wrong state is reported (as InvalidOptionError), never thrown into the page.
    const valid = this.guard(() => {
      checkOneOf({ consent: state }, 'consent', CONSENT_STATES);
      return true;
    });
    if (valid) this.setConsent(state, true);
  }

  /**
   * Consent given in one tab holds for the site: a change made by the page is told to the other
   * tabs (not the state each tab starts with, which would undo a choice made in another tab).
   */
  protected override setConsent(state: ConsentState, tell?: boolean): void {
    const id = this.id as IdentityStore;
    const o = this.o as ResolvedWebOptions;
    this.applyConsent(state, tell);
    // Only the page's own calls are remembered: not a privacy signal, which is read on each load.
    if (tell)
      guard(this.report, LOCAL, () =>
        state === 'denied' ? localStorage.setItem(deniedKey(o), state) : localStorage.removeItem(deniedKey(o)),
      );
    if (state === 'denied') {
      // Stored identity gone too, and every source's page-exit stashes on the device.
      this.#made = [];
      takeStashes(`${o.storagePrefix}_stash_`, this.report);
      // The visitor's refusal (a consent() call, here or in another tab, or one remembered) holds
      // for the whole site: the cookie says so.
      id.forget(!this.atLoad);
    } else if (!id.persist) {
      id.persist = true;
      id.save();
    }
  }
}
