import { bodySuffix, DELIVERY_ERROR_CODES, DeliveryError, utf8Length, uuidv7 } from '@kimlik/core';
import { sourceId } from './call-values.js';
import { type Pending, takeStashes, writeStash } from './exit-stash.js';
import { IdbQueueStorage } from './idb-storage.js';
import { type IdentityStore, storageFailed } from './identity.js';
import { electLeader } from './leader.js';
import type { ConsentState, ResolvedWebOptions } from './options.js';
import { Reporter } from './reporter.js';
import { eventBytes, SendQueue } from './send-queue.js';
import { postBatch, sendOnExit } from './transport.js';

/**
 * This tab's side of the site's event queue. The tab that leads (see leader.ts) sends with a
 * `SendQueue` (send-queue.ts) over the IndexedDB queue. Other tabs persist their events to the
 * same database and tell the leader over a BroadcastChannel; a tab that becomes leader loads whatever the
 * database holds. Sending waits for consent and the network; page exit stashes and beacons what
 * is not yet safe.
 *
 * `Client` extends it rather than holding one: a separate object cost ~25 B gzip in the script-tag
 * bundle, which has no room under its budget.
 */
export abstract class TabQueue extends Reporter {
  /** Applies a consent change; the queue calls it for a change made in another tab. */
  protected abstract setConsent(state: ConsentState, tell?: boolean): void;
  /** Hands the events made so far to `hand()`: before a flush or page exit. */
  protected abstract drain(): void;
  id: IdentityStore | undefined;
  /** The site's consent as sending sees it: batches leave only while 'granted'. */
  protected consentState: ConsentState = 'granted';
  /** Events handed over before this tab knew whether it leads (a stash from an earlier page first). */
  #parked: Pending = [];
  /** This tab's page-exit stash key for its source, and whether it holds events now. */
  #stashKey = '';
  #stashed = false;
  /** The storage promise a failure is reported from (one report per batch, not per event), and its events. */
  #watched: Promise<void> | undefined;
  #watchedIds: string[] = [];
  /** One source (write key + endpoint) of the site: its queue records, leader and stash. */
  #source!: string;
  /** This tab's events while following, not yet settled by the sending tab, for page exit; their bytes. */
  readonly #mine = new Map<string, string>();
  #mineBytes = 0;
  /** Set while this tab leads. */
  #queue: SendQueue | undefined;
  /** undefined: IndexedDB failed, the queue lives in memory. */
  #storage: IdbQueueStorage | undefined;
  #channel: BroadcastChannel | undefined;
  /** null until the election answered. */
  #leading: boolean | null = null;
  #exitedAt = 0;
  /** This tab's flushes waiting for the sending tab's answer, by token. */
  readonly #flushing = new Map<string, () => void>();
  /** Counts consent denials: a queue loaded before the last one is not restored. */
  #denials = 0;

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
    // before that found no send queue and left the events to wait for flushIntervalMs).
    await this.#ready;
    const timeoutMs = (this.o as ResolvedWebOptions).flushTimeoutMs;
    const channel = this.#channel;
    if (!this.#canSend()) return;
    if (this.#queue) return this.#queue.flush(timeoutMs);
    // Another tab sends: it is asked to flush (after this tab's events, which the channel
    // delivers first) and answers once they are settled.
    if (!channel) return;
    const token = uuidv7();
    await new Promise<void>((resolve) => {
      this.#flushing.set(token, resolve);
      channel.postMessage([token, this.#source]);
      setTimeout(resolve, timeoutMs);
    });
    this.#flushing.delete(token);
  }

  /**
   * Opens this source's queue (`o` is set). What an earlier page of the source could not write to
   * IndexedDB before it went is queued first, ahead of this page's events.
   */
  protected startQueue(): void {
    const o = this.o as ResolvedWebOptions;
    this.#source = sourceId(o);
    const stashes = `${o.storagePrefix}_stash_${this.#source}_`;
    this.#stashKey = stashes + uuidv7();
    const stashed = takeStashes(stashes, this.report);
    if (this.consentState !== 'denied') this.#parked.push(...stashed);
    const exit = () => this.#exit();
    addEventListener('pagehide', exit);
    addEventListener('visibilitychange', () => document.visibilityState === 'hidden' && exit());
    addEventListener('online', () => this.#queue?.pump());
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
    try {
      const storage = new IdbQueueStorage(name, this.#source, () => this.#restash());
      // An empty write transaction proves the database opens and commits without reading the
      // queue: it is loaded once, in the tab that leads.
      await storage.remove([]);
      this.#storage = storage;
    } catch (cause) {
      this.report(storageFailed('IndexedDB', cause));
      return this.#role(true);
    }
    // Consent denied at start (option or privacy signal): an earlier visit's queue goes too.
    if (this.consentState === 'denied') await this.#storage.clear();
    // Without BroadcastChannel (Safari < 15.4) the leader still finds other tabs' events in the
    // database when it starts; they just wait for the next leader or load.
    if (typeof BroadcastChannel === 'function') {
      // Tabs of every source of the site share the channel (consent is the site's); events are
      // taken only by the leader of their own source.
      // Messages: a consent state; [messageId, json, source], an event; [token, source], a flush
      // the source's sending tab answers with [token] once what it holds now is settled; the
      // messageIds the sending tab settled (acknowledged or dropped).
      this.#channel = new BroadcastChannel(name);
      this.#channel.onmessage = ({ data }: MessageEvent) =>
        this.guard(() => {
          if (typeof data === 'string') return this.setConsent(data as ConsentState);
          // Settled: not this tab's to beacon any more. No other message names one of its events.
          for (const id of data) this.#forget(id);
          if (!data[1]) this.#flushing.get(data[0])?.();
          else if (data.at(-1) !== this.#source) return;
          else if (data[2]) this.#queue?.add(data[0], data[1]);
          // A flush asked by another tab: answered once what this tab sends now is settled.
          else
            void this.#queue
              ?.flush((this.o as ResolvedWebOptions).flushTimeoutMs)
              .then(() => this.#channel?.postMessage([data[0]]));
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
      if (!this.#queue) this.#lead();
    } else {
      // A lease lost, or the lock let go for the back/forward cache: the queue is in the
      // database, where the new leader loads it.
      this.#queue?.stop();
      this.#queue = undefined;
    }
    for (const [id, json] of this.#parked.splice(0)) this.hand(id, json);
  }

  /** Becomes the sending tab: a send queue restoring what the database holds. */
  #lead(): void {
    const o = this.o as ResolvedWebOptions;
    const storage = this.#storage;
    this.#mine.clear();
    this.#mineBytes = 0;
    const queue = new SendQueue(
      o.delivery,
      {
        post: (body) => postBatch(`${o.endpoint}/v1/batch`, body),
        remove: (ids) => {
          this.#store(storage?.remove(ids), ids);
          // The tabs that made them keep them for their page exit until told.
          this.#channel?.postMessage(ids);
          // Memory only: what the queue holds is what is unsaved.
          if (!storage) this.#restash();
        },
        open: () => this.#canSend(),
        report: this.report,
      },
      bodySuffix({ writeKey: o.writeKey }),
    );
    this.#queue = queue;
    const denials = this.#denials;
    void Promise.resolve(storage?.load())
      .catch((cause: unknown) => this.#failed(cause, []))
      .then((stored) =>
        queue.restore(denials === this.#denials && stored ? stored.map((p) => [p.messageId, p.json]) : []),
      );
  }

  #canSend(): boolean {
    // A refusal on another subdomain reaches this page through the site's ID cookie alone: read
    // before anything leaves, and applied (and told to this origin's tabs) as this page's own.
    if (this.consentState !== 'denied' && (this.id as IdentityStore).denied()) this.setConsent('denied', true);
    return this.consentState === 'granted' && navigator.onLine;
  }

  /** Reports a failed storage call; the events stay in memory. */
  #store(call: Promise<void> | undefined, ids: string[]): void {
    call?.catch((cause: unknown) => this.#failed(cause, ids));
  }

  #failed(cause: unknown, ids: string[]): void {
    this.report(
      // A DOMException's string is its name and its message, which is often empty (QuotaExceededError).
      new DeliveryError(DELIVERY_ERROR_CODES.STORAGE, `storage failed: ${cause}`, {
        messageIds: ids,
        cause,
      }),
    );
  }

  /** Queues one event (its messageId and JSON) in the leader's send queue, or parks it until the election answers. */
  protected hand(id: string, json: string): void {
    if (this.#leading === null) this.#parked.push([id, json]);
    else if (this.#queue) {
      if (this.#queue.add(id, json)) this.#persist(id, json);
    } else {
      const o = this.o as ResolvedWebOptions;
      // Too big: refused here, where the page made it, rather than stored for whichever tab sends.
      const bytes = eventBytes(id, json, o.delivery.maxEventBytes, this.report);
      if (!bytes) return;
      const mine = this.#mine;
      mine.set(id, json);
      this.#mineBytes += bytes;
      // Kept for page exit until the sending tab has them settled, and bounded as its queue is (it
      // may hear nothing: no BroadcastChannel, a frozen tab), with the unsaved ones: with IndexedDB
      // failing for good (quota) they would grow with every event.
      while (mine.size > o.delivery.maxQueueEvents || this.#mineBytes > o.delivery.maxQueueBytes)
        this.#forget(mine.keys().next().value as string);
      this.#persist(id, json);
      this.#channel?.postMessage([id, json, this.#source]);
    }
  }

  /** One of this tab's events is settled or dropped: neither beaconed nor stashed at page exit. */
  #forget(id: string): void {
    const json = this.#mine.get(id);
    if (json === undefined) return;
    this.#mine.delete(id);
    this.#mineBytes -= utf8Length(json);
    this.#storage?.unsaved.delete(id);
  }

  /**
   * Writes one event to the queue's storage; until the write commits, page exit stashes it. A
   * failed batch is reported once, naming its events (a burst of failures once: see Reporter).
   */
  #persist(id: string, json: string): void {
    const storage = this.#storage;
    if (!storage) return;
    const written = storage.append(id, json);
    if (written !== this.#watched) {
      const ids: string[] = [];
      this.#watched = written;
      this.#watchedIds = ids;
      written.catch((cause: unknown) => this.#failed(cause, ids));
    }
    this.#watchedIds.push(id);
  }

  /**
   * What this tab would lose with the page: events whose IndexedDB write has not committed, or,
   * without IndexedDB, the whole queue (localStorage may still work, as in private windows of
   * older browsers that had no IndexedDB there).
   */
  #unsaved(): Pending {
    return [...(this.#storage?.unsaved ?? this.#queue?.q ?? [])];
  }

  /**
   * The page lived on after an exit (a tab switch, a cancelled navigation): once writes commit or
   * events leave a memory-only queue, its stash keeps only what is still unsaved, and goes when
   * nothing is.
   */
  #restash(): void {
    if (this.#stashed) this.#stash(this.#unsaved());
  }

  /** Page exit: stashes `pending` in localStorage, or removes the stash when there is none. */
  #stash(pending: Pending): void {
    if (!pending.length && !this.#stashed) return;
    this.#stashed = pending.length > 0;
    writeStash(this.#stashKey, pending, this.report);
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
    if (this.consentState !== 'denied') this.#stash([...this.#parked, ...this.#unsaved()]);
    // Closing a tab fires visibilitychange and then pagehide: one beacon is enough; anything
    // queued in between is stashed or in the database for the next load.
    if (Date.now() - this.#exitedAt < 1000) return;
    this.#exitedAt = Date.now();
    const queued = this.#queue ? [...this.#queue.q].sort((a, b) => (a[0] < b[0] ? -1 : 1)) : [...this.#mine];
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
      this.#queue?.pump();
      return;
    }
    this.#denials++;
    this.#parked = [];
    this.#mine.clear();
    this.#mineBytes = 0;
    // A request in flight is no longer heard: its events must not be written back after the clear.
    // The queue goes on, empty, and sends again if consent comes back.
    this.#queue?.stop();
    this.#store(this.#storage?.clear(), []);
  }
}
