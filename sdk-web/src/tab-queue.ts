import { bodySuffix, DeliveryEngine, MemoryStorage, type QueueStorage, uuidv7 } from '@kimlik/core';
import { sourceId } from './call-values.js';
import { ExitStash, type Pending, takeStashes } from './exit-stash.js';
import { IdbQueueStorage } from './idb-storage.js';
import { storageFailed } from './identity.js';
import { electLeader } from './leader.js';
import type { ConsentState, ResolvedWebOptions } from './options.js';
import { Reporter } from './reporter.js';
import { postBatch, sendOnExit } from './transport.js';

type Inner = QueueStorage & { clear?(): Promise<void> };

/**
 * This tab's side of the site's event queue. The tab that leads (see leader.ts) runs the shared
 * `DeliveryEngine` over the IndexedDB queue. Other tabs persist their events to the same database
 * and tell the leader over a BroadcastChannel; a tab that becomes leader loads whatever the
 * database holds. Sending waits for consent and the network; page exit stashes and beacons what
 * is not yet safe.
 *
 * `Client` extends it rather than holding one: a separate object cost ~25 B gzip in the script-tag
 * bundle, which has no room under its budget.
 */
export abstract class TabQueue extends Reporter {
  /** Applies a consent change; the queue calls it for a change made in another tab. */
  protected abstract setConsent(state: ConsentState): void;
  /** Hands the events made so far to `hand()`: before a flush or page exit. */
  protected abstract drain(): void;
  /** The site's consent as sending sees it: batches leave only while 'granted'. */
  protected consentState: ConsentState = 'granted';
  /** Events handed over before this tab knew whether it leads (a stash from an earlier page first). */
  #parked: Pending = [];
  #stash: ExitStash | undefined;
  /** One source (write key + endpoint) of the site: its queue records, leader and stash. */
  #source!: string;
  /** Unacknowledged events the leader's engine holds, by messageId, oldest first (for page exit). */
  readonly #held = new Map<string, string>();
  /** This tab's events while following, for page exit. */
  readonly #mine = new Map<string, string>();
  #engine: DeliveryEngine | undefined;
  #storage: Inner | undefined;
  #channel: BroadcastChannel | undefined;
  /** null until the election answered. */
  #leading: boolean | null = null;
  #waiters: (() => void)[] = [];
  #exitedAt = 0;

  #resolveReady!: () => void;
  readonly #ready = new Promise<void>((resolve) => {
    this.#resolveReady = resolve;
  });

  /** Resolves once storage is open and this tab knows whether it sends. */
  ready(): Promise<void> {
    return this.#ready;
  }

  /** Sends what is queued now; resolves when acknowledged (or after `flushTimeoutMs`). */
  async flush(): Promise<void> {
    this.drain();
    // Right after a load the queue may still be opening: what it then holds is sent too (a flush()
    // before that found no engine and left the events to wait for flushIntervalMs).
    await this.#ready;
    if (this.#engine && this.#canSend()) await this.#engine.flush({ timeoutMs: this.o?.flushTimeoutMs });
  }

  /**
   * Opens this source's queue (`o` is set). What an earlier page of the source could not write to
   * IndexedDB before it went is queued first, ahead of this page's events.
   */
  protected startQueue(): void {
    const o = this.o as ResolvedWebOptions;
    this.#source = sourceId(o);
    const stashes = `${o.storagePrefix}_stash_${this.#source}_`;
    this.#stash = new ExitStash(stashes + uuidv7(), this.report);
    const stashed = takeStashes(stashes, this.report);
    if (this.consentState !== 'denied') this.#parked.push(...stashed);
    const exit = () => this.#exit();
    addEventListener('pagehide', exit);
    addEventListener('visibilitychange', () => document.visibilityState === 'hidden' && exit());
    addEventListener('online', () => this.#wake());
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
    const name = `${(this.o as ResolvedWebOptions).storagePrefix}-queue`;
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
    if (this.consentState === 'denied') await inner.clear?.();
    if (!inner.persistent) return this.#role(true);
    // Without BroadcastChannel (Safari < 15.4) the leader still finds other tabs' events in the
    // database when it starts; they just wait for the next leader or load.
    if (typeof BroadcastChannel === 'function') {
      this.#channel = new BroadcastChannel(name);
      // Tabs of every source of the site share the channel (consent is the site's); events are
      // taken only by the leader of their own source.
      this.#channel.onmessage = ({ data }: MessageEvent) =>
        this.guard(() => {
          if (typeof data === 'string') this.setConsent(data as ConsentState);
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
        this.report,
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
    for (const [id, json] of this.#parked.splice(0)) this.hand(id, json);
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
      onError: this.report,
    });
    this.#engine.start().catch(this.report);
  }

  /** Resolves when this tab may send: consent granted, online (the engine holds the batch until then). */
  #gate(): Promise<void> {
    return this.#canSend() ? Promise.resolve() : new Promise((resolve) => this.#waiters.push(resolve));
  }

  #canSend(): boolean {
    return this.consentState === 'granted' && navigator.onLine;
  }

  #wake(): void {
    if (this.#canSend()) for (const resolve of this.#waiters.splice(0)) resolve();
  }

  /** Queues one event (its messageId and JSON) in the leader's engine, or parks it until the election answers. */
  protected hand(id: string, json: string): void {
    if (this.#leading === null) this.#parked.push([id, json]);
    else if (this.#engine) this.#engine.enqueue(id, json);
    else {
      const mine = this.#mine;
      mine.set(id, json);
      // Kept only for a beacon at exit; the leader has long sent the oldest.
      if (mine.size > (this.o as ResolvedWebOptions).delivery.maxQueueEvents)
        mine.delete(mine.keys().next().value as string);
      this.#persist(id, json).catch(this.report);
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
    this.drain();
    if (this.consentState !== 'denied') (this.#stash as ExitStash).write(this.#parked);
    // Closing a tab fires visibilitychange and then pagehide: one beacon is enough; anything
    // queued in between is stashed or in the database for the next load.
    if (Date.now() - this.#exitedAt < 1000) return;
    this.#exitedAt = Date.now();
    const queued = this.#engine ? [...this.#held].sort((a, b) => (a[0] < b[0] ? -1 : 1)) : [...this.#mine];
    const jsons = [...queued, ...this.#parked].map((p) => p[1]);
    // sendBeacon cannot set headers: the write key ends the body.
    if (this.#canSend() && jsons.length)
      sendOnExit(`${o.endpoint}/v1/batch`, jsons, bodySuffix({ writeKey: o.writeKey }), o.beaconBytes);
  }

  /**
   * Sending follows consent; denied (here or in another tab), this tab's queue is gone and nothing
   * is sent. `tell`: a change the page made, told to the other tabs.
   */
  protected applyConsent(state: ConsentState, tell?: boolean): void {
    if (tell) this.#channel?.postMessage(state);
    this.consentState = state;
    if (state !== 'denied') {
      this.#wake();
      return;
    }
    this.#parked = [];
    this.#stash?.unsaved.clear();
    this.#mine.clear();
    this.#held.clear();
    // Batches waiting at the gate are abandoned: they must not leave even if consent comes back.
    this.#waiters = [];
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
      .catch(this.report);
  }
}
