import {
  bodySuffix,
  checkOneOf,
  DELIVERY_ERROR_CODES,
  DeliveryEngine,
  type DeliveryError,
  ERROR_CODES,
  type JsonObject,
  KimlikError,
  MemoryStorage,
  type QueueStorage,
  uuidv7,
  type WireEvent,
} from '@kimlik/core';
import { copy, isObject, pageEvent, sourceId } from './call-values.js';
import { buildContext, type CallSite } from './context.js';
import { WEB_ERROR_CODES } from './errors.js';
import { ExitStash, type Pending, takeStashes } from './exit-stash.js';
import { watchHistory } from './history.js';
import { IdbQueueStorage } from './idb-storage.js';
import { guard, IdentityStore, LOCAL, storageFailed, type UserState } from './identity.js';
import { electLeader } from './leader.js';
import { nextMessageId } from './message-id.js';
import {
  CONSENT_STATES,
  type ConsentState,
  DEFAULTS,
  type ResolvedWebOptions,
  resolveOptions,
  type WebOptions,
} from './options.js';
import { postBatch, sendOnExit } from './transport.js';

/**
 * Enrichment or filter middleware: gets each event before it is queued and returns it (changed
 * or not), or null/undefined to drop it.
 */
export type Plugin = (event: WireEvent) => WireEvent | null | undefined;

type Inner = QueueStorage & { clear?(): Promise<void> };

/**
 * One SDK instance, wrapped by `createKimlik()` (api.ts) so no public method throws; work that touches
 * storage or the network is deferred so `track()` costs the same at any queue length.
 *
 * Delivery: the tab that leads (see leader.ts) runs the shared `DeliveryEngine` over the IndexedDB
 * queue. Other tabs persist their events to the same database and tell the leader over a
 * BroadcastChannel; a tab that becomes leader loads whatever the database holds.
 */
export class Client {
  o: ResolvedWebOptions | undefined;
  id: IdentityStore | undefined;
  readonly #plugins: Plugin[] = [];
  /**
   * Set while a call the snippet's stub recorded is replayed: the time and page of that call.
   */
  at: CallSite | undefined;
  /**
   * Events made by the page, not yet handed to storage (drained in a microtask or at page exit),
   * each with the number of plugins registered at its call (plugins apply in call order).
   */
  #made: [WireEvent, number][] = [];
  /** Events handed over before this tab knew whether it leads (a stash from an earlier page first). */
  #parked: Pending = [];
  #stash: ExitStash | undefined;
  /** One source (write key + endpoint) of the site: its queue records, leader and stash. */
  #source = '';
  /** Unacknowledged events the leader's engine holds, by messageId, oldest first (for page exit). */
  readonly #held = new Map<string, string>();
  /** This tab's events while following, for page exit. */
  readonly #mine = new Map<string, string>();
  #engine: DeliveryEngine | undefined;
  #storage: Inner | undefined;
  #channel: BroadcastChannel | undefined;
  /** null until the election answered. */
  #leading: boolean | null = null;
  #state: ConsentState = 'granted';
  #waiters: (() => void)[] = [];
  readonly #readyPromise: Promise<void>;
  #resolveReady!: () => void;
  /** `,"writeKey":…}`: the end of a beacon's body (sendBeacon cannot set headers). */
  #bodySuffix = '';
  #exitedAt = 0;
  /** localStorage key remembering a refusal (`consent('denied')`) across loads. */
  #deniedKey = '';
  /** Events dropped past the queue bound in the current burst (reported or counted). */
  #dropped = 0;

  constructor() {
    this.#readyPromise = new Promise((resolve) => {
      this.#resolveReady = resolve;
    });
  }

  init(options: WebOptions): void {
    if (this.o) return;
    const o = resolveOptions(options, location.origin);
    this.o = o;
    const report = (e: KimlikError) => this.report(e);
    this.id = new IdentityStore(o, report);
    this.#bodySuffix = bodySuffix({ writeKey: o.writeKey });
    this.#source = sourceId(o);
    const stashes = `${o.storagePrefix}_stash_${this.#source}_`;
    this.#stash = new ExitStash(stashes + uuidv7(), report);
    this.#deniedKey = `${o.storagePrefix}_consent`;
    const nav = navigator as Navigator & { globalPrivacyControl?: boolean };
    // window.doNotTrack: Safari and old Edge never had navigator.doNotTrack.
    const dnt = nav.doNotTrack ?? (window as { doNotTrack?: string }).doNotTrack;
    const signal = o.respectPrivacySignals && (nav.globalPrivacyControl || dnt === '1');
    // A denial the visitor gave on an earlier page holds until the page asks again: the option is
    // only what a visitor who has not refused starts with.
    const refused = guard(report, LOCAL, () => localStorage.getItem(this.#deniedKey)) === 'denied';
    this.#setConsent(signal || refused ? 'denied' : o.consent, false);
    // What an earlier page of this source could not write to IndexedDB before it went: queued
    // first, ahead of this page's events.
    const stashed = takeStashes(stashes, report);
    if (this.#state !== 'denied') this.#parked.push(...stashed);
    // Another tab's identify/alias/reset (logout) holds here too, from this tab's next event on:
    // a tab that kept the old identity in memory would send as the old user and write it back.
    addEventListener('storage', (e) => this.id?.persist && this.id.owns(e.key) && this.id.load());
    const exit = () => this.#exit();
    addEventListener('pagehide', exit);
    addEventListener('visibilitychange', () => document.visibilityState === 'hidden' && exit());
    addEventListener('online', () => this.#wake());
    if (o.autoPage) {
      this.page();
      watchHistory((u, r) => {
        const t = Date.now();
        // Routers set the new page's title after pushState: it is read a task later.
        setTimeout(() =>
          this.guard(() => {
            this.at = { t, u, n: document.title, r };
            this.page();
            this.at = undefined;
          }),
        );
      });
    }
    void this.#connect()
      .catch((e: unknown) => {
        this.report(e);
        // Whatever failed, events must not stay parked: this tab sends them itself.
        if (this.#leading === null) this.#role(true);
      })
      .then(this.#resolveReady);
  }

  /** Opens the IndexedDB queue (memory when storage is blocked) and joins the election. */
  async #connect(): Promise<void> {
    const o = this.o as ResolvedWebOptions;
    const name = `${o.storagePrefix}-queue`;
    let inner: Inner;
    try {
      inner = new IdbQueueStorage(name, this.#source);
      // An empty write transaction proves the database opens and commits without reading the
      // queue: the engine loads it once, in the tab that leads.
      await inner.remove([]);
    } catch (cause) {
      this.report(storageFailed('IndexedDB', cause));
      inner = new MemoryStorage();
    }
    this.#storage = inner;
    // Consent denied at start (option or privacy signal): an earlier visit's queue goes too.
    if (this.#state === 'denied') await inner.clear?.();
    if (!inner.persistent) return this.#role(true);
    // Without BroadcastChannel (Safari < 15.4) the leader still finds other tabs' events in the
    // database when it starts; they just wait for the next leader or load.
    if (typeof BroadcastChannel === 'function') {
      this.#channel = new BroadcastChannel(name);
      // Tabs of every source of the site share the channel (consent is the site's); events are
      // taken only by the leader of their own source.
      this.#channel.onmessage = ({ data }: MessageEvent) =>
        this.guard(() => {
          if (typeof data === 'string') this.#setConsent(data as ConsentState, false);
          else if (this.#engine && data[2] === this.#source && !this.#held.has(data[0]))
            this.#engine.enqueue(data[0], data[1]);
        });
    }
    await new Promise<void>((resolve) =>
      electLeader(
        `${name} ${this.#source}`,
        (leading) => {
          this.#role(leading);
          resolve();
        },
        (e) => this.report(e),
      ),
    );
  }

  #role(leading: boolean): void {
    this.#leading = leading;
    if (leading) {
      if (!this.#engine) this.#lead();
    } else if (this.#engine) {
      // Only a lease can be lost (Web Locks are held until the tab goes): hand the queue back to
      // the database, where the new leader loads it.
      void this.#engine.stop({ timeoutMs: 0 });
      this.#engine = undefined;
      this.#waiters = [];
      this.#held.clear();
    }
    for (const [id, json] of this.#parked.splice(0)) this.#hand(id, json);
  }

  /** Becomes the sending tab: an engine over the shared queue, restoring what it holds. */
  #lead(): void {
    const o = this.o as ResolvedWebOptions;
    const inner = this.#storage as Inner;
    const held = this.#held;
    this.#mine.clear();
    const storage: QueueStorage = {
      persistent: inner.persistent,
      load: async () => {
        const all = await inner.load();
        const fresh = all.filter((p) => !held.has(p.messageId));
        for (const p of fresh) held.set(p.messageId, p.json);
        return fresh;
      },
      append: (id, json) => {
        held.set(id, json);
        return this.#persist(id, json);
      },
      remove: (ids) => {
        for (const id of ids) {
          held.delete(id);
          this.#stash?.unsaved.delete(id);
        }
        return inner.remove(ids);
      },
    };
    this.#engine = new DeliveryEngine(o.delivery, {
      storage,
      transport: {
        send: (batch) => this.#gate().then(() => postBatch(`${o.endpoint}/v1/batch`, batch.body)),
      },
      bodyFields: { writeKey: o.writeKey },
      onError: (e) => this.report(e),
    });
    this.#engine.start().catch((e: unknown) => this.report(e));
  }

  /** Resolves when this tab may send: consent granted, online (the engine holds the batch until then). */
  #gate(): Promise<void> {
    return this.#canSend() ? Promise.resolve() : new Promise((resolve) => this.#waiters.push(resolve));
  }

  #canSend(): boolean {
    return this.#state === 'granted' && navigator.onLine;
  }

  #wake(): void {
    if (this.#canSend()) for (const resolve of this.#waiters.splice(0)) resolve();
  }

  report(error: unknown): void {
    const e =
      error instanceof KimlikError
        ? error
        : new KimlikError(WEB_ERROR_CODES.UNEXPECTED, String(error), { cause: error });
    // Past the queue bound every call drops one event: a loop of 10 000 calls made 10 000 console
    // warnings and stalled the page for seconds. The first of a burst is reported, the rest in one
    // count a second later.
    if (e.code === DELIVERY_ERROR_CODES.QUEUE_FULL) {
      const count = (e as DeliveryError).messageIds?.length || 1;
      const burst = this.#dropped;
      this.#dropped += count;
      if (burst) return;
      setTimeout(() => {
        const more = this.#dropped - count;
        this.#dropped = 0;
        if (more) this.#emit(new KimlikError(e.code, `queue full: ${more} more events dropped`));
      }, 1000);
    }
    this.#emit(e);
  }

  #emit(e: KimlikError): void {
    try {
      (this.o ?? DEFAULTS).onError(e);
    } catch (thrown) {
      // The page's own onError failed: the console is all that is left.
      console.warn('[kimlik]', thrown);
    }
  }

  guard<T>(fn: () => T): T | undefined {
    try {
      return fn();
    } catch (e) {
      this.report(e);
      return undefined;
    }
  }

  /**
   * Builds the event now (the page and time of the call, a copy of what the page passed), queues
   * it later. `fields` may name the user (alias); otherwise the current one is the event's.
   */
  #add(fields: WireEvent): void {
    const id = this.id as IdentityStore;
    if (this.#state === 'denied') return;
    const { anonymousId, userId } = id.state;
    const at = this.at;
    const event: WireEvent = {
      anonymousId,
      ...(userId ? { userId } : {}),
      ...copy(fields),
      messageId: nextMessageId(),
      timestamp: new Date(at ? at.t : Date.now()).toISOString(),
      context: buildContext(at),
    };
    if (this.#made.push([event, this.#plugins.length]) === 1) queueMicrotask(() => this.guard(() => this.#drain()));
  }

  /** Runs the plugins registered before each call and hands events to the queue, in call order. */
  #drain(): void {
    for (const [made, plugins] of this.#made.splice(0)) {
      let event: WireEvent | null | undefined = made;
      // null drops the event; so does a plugin that throws (reported), rather than sending it unfiltered.
      for (let i = 0; event && i < plugins; i++) {
        const plugin = this.#plugins[i] as Plugin;
        event = this.guard(() => plugin(event as WireEvent));
      }
      // The messageId is the one set when the call was made, whatever a plugin returned.
      const json = event && this.guard(() => JSON.stringify({ ...event, messageId: made.messageId }));
      if (json) this.#hand(made.messageId as string, json);
    }
  }

  #hand(id: string, json: string): void {
    if (this.#leading === null) this.#parked.push([id, json]);
    else if (this.#engine) this.#engine.enqueue(id, json);
    else {
      const mine = this.#mine;
      mine.set(id, json);
      // Kept only for a beacon at exit; the leader has long sent the oldest.
      if (mine.size > (this.o as ResolvedWebOptions).delivery.maxQueueEvents)
        mine.delete(mine.keys().next().value as string);
      this.#persist(id, json).catch((e: unknown) => this.report(e));
      this.#channel?.postMessage([id, json, this.#source]);
    }
  }

  /** Writes one event to the queue's storage; until the write commits, page exit stashes it. */
  #persist(id: string, json: string): Promise<void> {
    return (this.#stash as ExitStash).persist(id, json, () => (this.#storage as Inner).append(id, json));
  }

  /**
   * pagehide / hidden: what is not yet in IndexedDB is stashed in localStorage at once (the page
   * may be gone before those writes commit), then the newest events are sent within the
   * browser's keepalive budget. All stay queued and the next load re-sends them; the collector
   * dedups by messageId.
   */
  #exit(): void {
    const o = this.o as ResolvedWebOptions;
    this.#drain();
    if (this.#state !== 'denied') this.#stash?.write(this.#parked);
    // Closing a tab fires visibilitychange and then pagehide: one beacon is enough; anything
    // queued in between is stashed or in the database for the next load.
    if (Date.now() - this.#exitedAt < 1000) return;
    this.#exitedAt = Date.now();
    const queued = this.#engine ? [...this.#held].sort((a, b) => (a[0] < b[0] ? -1 : 1)) : [...this.#mine];
    const jsons = [...queued, ...this.#parked].map((p) => p[1]);
    if (this.#canSend() && jsons.length) sendOnExit(`${o.endpoint}/v1/batch`, jsons, this.#bodySuffix, o.beaconBytes);
  }

  track(event: string, properties?: JsonObject): void {
    this.#add({ type: 'track', event, properties: properties ?? {} });
  }

  /** Also Segment's `identify(traits)`: traits only, the user unchanged. */
  identify(userId?: string | null | JsonObject, traits?: JsonObject): void {
    const { state } = this.id as IdentityStore;
    if (isObject(userId)) {
      traits = userId;
      userId = null;
    }
    if (userId != null && userId !== '') {
      // Another user on this device (no reset() between): the previous user's traits are not theirs.
      if (state.userId !== null && state.userId !== String(userId)) state.traits = {};
      state.userId = String(userId);
    }
    state.traits = { ...state.traits, ...copy(isObject(traits) ? traits : {}) };
    this.id?.save();
    this.#add({ type: 'identify', traits: state.traits });
  }

  /** Also Segment's `page(category, name, properties)`. */
  page(name?: string | null, properties?: JsonObject | string | null, more?: JsonObject): void {
    this.#add(pageEvent(name, properties, more, this.at));
  }

  group(groupId: string, traits?: JsonObject): void {
    // Reported and dropped: a group event without an account is useless and would say "undefined".
    if (groupId == null || groupId === '') {
      throw new KimlikError(ERROR_CODES.VALIDATION, 'group() without a groupId: dropped');
    }
    this.#add({ type: 'group', groupId: String(groupId), traits: isObject(traits) ? traits : {} });
  }

  alias(userId: string, previousId?: string): void {
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
    return { anonymousId: s?.anonymousId ?? '', userId: s?.userId ?? null, traits: { ...s?.traits } };
  }

  use(plugin: Plugin): void {
    if (typeof plugin === 'function') this.#plugins.push(plugin);
  }

  async flush(): Promise<void> {
    this.#drain();
    // Right after a load the queue may still be opening: what it then holds is sent too (a flush()
    // before that found no engine and left the events to wait for flushIntervalMs).
    await this.#readyPromise;
    if (this.#engine && this.#canSend()) await this.#engine.flush({ timeoutMs: this.o?.flushTimeoutMs });
  }

  ready(): Promise<void> {
    return this.#readyPromise;
  }

  consent(state: ConsentState): void {
    // A wrong state is reported (as InvalidOptionError), never thrown into the page.
    const valid = this.guard(() => {
      checkOneOf({ consent: state }, 'consent', CONSENT_STATES);
      return true;
    });
    if (valid) this.#setConsent(state, true);
  }

  /**
   * Consent given in one tab holds for the site: a change made by the page is told to the other
   * tabs (not the state each tab starts with, which would undo a choice made in another tab).
   */
  #setConsent(state: ConsentState, tell: boolean): void {
    const id = this.id as IdentityStore;
    if (tell) {
      this.#channel?.postMessage(state);
      // Only the page's own calls are remembered: not a privacy signal, which is read on each load.
      guard(
        (e) => this.report(e),
        LOCAL,
        () =>
          state === 'denied' ? localStorage.setItem(this.#deniedKey, state) : localStorage.removeItem(this.#deniedKey),
      );
    }
    if (state === 'denied') {
      this.#deny();
      return;
    }
    this.#state = state;
    if (!id.persist) {
      id.persist = true;
      id.save();
    }
    this.#wake();
  }

  /** Consent denied here or in another tab: queue and stored identity gone, nothing sent. */
  #deny(): void {
    this.#state = 'denied';
    this.#made = [];
    this.#parked = [];
    this.#stash?.unsaved.clear();
    // Every source's page-exit stashes on the device go too.
    takeStashes(`${(this.o as ResolvedWebOptions).storagePrefix}_stash_`, (e) => this.report(e));
    this.#mine.clear();
    this.#held.clear();
    // Batches waiting at the gate are abandoned: they must not leave even if consent comes back.
    this.#waiters = [];
    this.id?.forget();
    const engine = this.#engine;
    this.#engine = undefined;
    const storage = this.#storage;
    // Stopping first settles the engine's events, so none is written back after the clear.
    Promise.resolve(engine?.stop({ timeoutMs: 0 }))
      .then(() => {
        // stop() flushes first, which may park one more batch at the gate.
        this.#waiters = [];
        return storage?.clear?.();
      })
      .then(() => {
        // A later consent('granted') sends again, from a fresh engine over the emptied queue.
        if (engine && this.#leading && !this.#engine) this.#lead();
      })
      .catch((e: unknown) => this.report(e));
  }
}
