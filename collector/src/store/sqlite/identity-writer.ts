import {
  addErasedPeriods,
  type ErasedPeriod,
  type ErasedPeriods,
  erasedPeriodOf,
} from '../../identity/erased-periods.js';
import type { IdentityExtra } from '../../identity/event-identity.js';
import type { IdentifierType, TraitIdentifierType } from '../../identity/identifiers.js';
import { identifierHash, suppressionHash } from '../../identity/profile-id.js';
import {
  BEGINNING,
  hubReason,
  parkedReason,
  type ResolverCaps,
  type ResolverLink,
  type ResolverNode,
  resolveCluster,
} from '../../identity/resolve.js';
import { type DeviceIdentify, identifyLinks, isShared, sharedDevices } from '../../identity/shared-device.js';
import { hash53 } from '../../ingest/hash.js';
import { BoundedMap } from '../bounded-map.js';
import { HashFilter } from './hash-filter.js';
import { IdentCache } from './ident-cache.js';
import type { SqliteDatabase } from './open.js';
import { RowBatcher } from './row-batcher.js';

/**
 * For `erasedPeriodOf`: whether a userId identified on the device after `from` and at or before
 * `ts` (its link's first sighting, or a shared device's later identify): the erased person's open
 * period ends there.
 */
const CLAIMED_SINCE = `SELECT 1 FROM identifiers d WHERE d.type = 'anonymousId' AND d.id = @device AND (
      EXISTS (SELECT 1 FROM device_identifies di WHERE di.device = d.id AND di.ts > @from AND di.ts <= @ts)
      OR EXISTS (SELECT 1 FROM links l JOIN identifiers u ON u.id = (CASE WHEN l.a = d.id THEN l.b ELSE l.a END)
        WHERE (l.a = d.id OR l.b = d.id) AND l.detached = 0 AND u.type = 'userId' AND l.ts > @from AND l.ts <= @ts))`;

export interface IdentityWriterOptions {
  salt: string;
  caps: ResolverCaps;
  /** Most identifiers a replay gathers; a cluster beyond it is cut there (and logged). */
  maxClusterIdentifiers: number;
}

/** An identifier as the caches hold it: the resolver's node, one object for both lookups (IdentCache). */
type CachedIdent = ResolverNode;

/** Identifiers, adjacency lists and written-row hashes each kept in memory (the recently used). */
const IDENTITY_CACHE_LIMIT = 500_000;
/** What `written` records for an identifier whose membership and history rows do not exist yet. */
const NO_ROWS = -1;
const earlier = (ts: number, msg: string, than: { firstTs: number; firstMsg: string }) =>
  ts < than.firstTs || (ts === than.firstTs && msg < than.firstMsg);

/**
 * The identity graph's writes, run on the writer thread in the identity batches of
 * `IdentityApplier`. Most events carry identifiers and links already known, which the caches
 * answer without touching the database.
 */
export class IdentityWriter {
  private idents!: IdentCache;
  /** Every link of an identifier, when all of them were read (a replay's walk needs no query then). */
  private adjacency!: BoundedMap<number, ResolverLink[]>;
  /**
   * Per identifier, a hash of the membership and history rows last written for it: a replay that
   * yields the same rows (most of a cluster, when one identifier joins it) writes nothing for it.
   */
  private written!: BoundedMap<number, number>;
  /** Identifiers created in this batch: their one-identifier membership is written unless a replay covers them. */
  private fresh = new Set<number>();
  /** New identifiers met in a cluster past the limit this batch (recomputeCluster). */
  private parked = new Set<number>();
  private readonly suppressed = new Set<string>();
  /** Erased people's periods on the shared devices they leave behind (erased-periods.ts). */
  private readonly erasedPeriods: ErasedPeriods = new Map();
  /** Key hashes of every stored identifier: a first sighting skips the index lookup. */
  private readonly known = new HashFilter();
  private dirty = new Set<number>();
  /** Hubs (resolve.ts, hubReason): few, so all of them are kept. */
  private hubs = new Set<number>();
  /** Identifiers that gained a link this batch and have more than the limit, or an unknown number. */
  private hubCandidates = new Set<number>();
  private readonly q;
  /** Rows nothing reads back within a batch, written many per statement when the batch ends. */
  private readonly traitRows;
  private readonly soloMemberships;

  constructor(
    db: SqliteDatabase,
    private readonly options: IdentityWriterOptions,
    private readonly cacheLimit = IDENTITY_CACHE_LIMIT,
  ) {
    this.q = {
      claimedSince: db.prepare(CLAIMED_SINCE).pluck(),
      findIdent: db
        .prepare(
          'SELECT id, first_ts, first_msg, alias_only FROM identifiers WHERE key_hash = ? AND type = ? AND value = ?',
        )
        .raw(),
      insertIdent: db.prepare(
        'INSERT INTO identifiers (key_hash, type, value, first_ts, first_msg, alias_only) VALUES (?, ?, ?, ?, ?, ?)',
      ),
      updateFirst: db.prepare('UPDATE identifiers SET first_ts = ?, first_msg = ? WHERE id = ?'),
      clearAliasOnly: db.prepare('UPDATE identifiers SET alias_only = 0 WHERE id = ?'),
      insertMembership: db.prepare(
        'INSERT OR REPLACE INTO memberships (identifier_id, from_ts, founder_id) VALUES (?, ?, ?)',
      ),
      upsertLink: db.prepare(
        `INSERT INTO links (a, b, ts, message_id) VALUES (?, ?, ?, ?)
         ON CONFLICT (a, b) DO UPDATE SET ts = excluded.ts, message_id = excluded.message_id`,
      ),
      linksOf: db.prepare('SELECT a, b, ts, message_id, detached FROM links WHERE a = ? OR b = ?').raw(),
      linkOf: db.prepare('SELECT ts, message_id FROM links WHERE a = ? AND b = ?').raw(),
      ident: db.prepare('SELECT id, type, value, first_ts, first_msg, alias_only FROM identifiers WHERE id = ?').raw(),
      deleteMemberships: db.prepare('DELETE FROM memberships WHERE identifier_id = ?'),
      deleteLog: db.prepare('DELETE FROM identity_log WHERE identifier_id = ?'),
      insertLog: db.prepare(
        'INSERT INTO identity_log (identifier_id, kind, ts, message_id, detail) VALUES (?, ?, ?, ?, ?)',
      ),
      insertIdentify: db.prepare(
        'INSERT OR IGNORE INTO device_identifies (device, user_ident, ts, message_id) VALUES (?, ?, ?, ?)',
      ),
      identifiesOf: db.prepare('SELECT user_ident, ts, message_id FROM device_identifies WHERE device = ?').raw(),
      hubIds: db.prepare('SELECT id FROM identifiers WHERE hub = 1').pluck(),
      markHub: db.prepare('UPDATE identifiers SET hub = 1 WHERE id = ?'),
      unmarkHub: db.prepare(
        `UPDATE identifiers SET hub = 0 WHERE id = @id AND hub = 1
         AND (SELECT count(*) FROM links WHERE a = @id OR b = @id) <= @limit`,
      ),
    };
    this.startCaches();
    this.traitRows = new RowBatcher(
      db,
      'INSERT INTO trait_writes (identifier_id, ts, message_id, key, value, set_once)',
      6,
    );
    this.soloMemberships = new RowBatcher(
      db,
      'INSERT OR REPLACE INTO memberships (identifier_id, from_ts, founder_id)',
      3,
    );
    for (const h of db.prepare('SELECT hash FROM suppressed').pluck().all() as string[]) this.suppressed.add(h);
    addErasedPeriods(
      this.erasedPeriods,
      db.prepare('SELECT hash, from_ts, to_ts FROM suppressed_periods').raw().all() as ErasedPeriod[],
    );
    for (const h of db.prepare('SELECT key_hash FROM identifiers').pluck().iterate() as Iterable<number>)
      this.known.add(h);
  }

  private cached(type: string, value: string): CachedIdent | undefined {
    return this.idents.byKey(type, value);
  }

  /** Whether anyone was ever erased: until then no event needs a suppression check. */
  private get anyErased(): boolean {
    return this.suppressed.size > 0 || this.erasedPeriods.size > 0;
  }

  isSuppressed(type: string, value: string): boolean {
    return this.suppressed.size > 0 && this.suppressed.has(suppressionHash(this.options.salt, type, value));
  }

  /** True when the event is an erased person's (checked before it is stored). */
  suppressesEvent(anonymousId: string | null, userId: string | null, extraJson: string | null, ts: number): boolean {
    if (!this.anyErased) return false;
    const extra = extraJson ? (JSON.parse(extraJson) as IdentityExtra) : null;
    return this.carriesSuppressed(anonymousId, userId, extra, ts);
  }

  private carriesSuppressed(
    anonymousId: string | null,
    userId: string | null,
    extra: IdentityExtra | null,
    ts: number,
  ): boolean {
    if (anonymousId && this.isSuppressed('anonymousId', anonymousId)) return true;
    if (userId && this.isSuppressed('userId', userId)) return true;
    for (const [t, v] of extra?.t ?? []) if (this.isSuppressed(t, v)) return true;
    // An alias's previousId is a userId or a device ID; either erased one drops the event.
    if (extra?.p && (this.isSuppressed('userId', extra.p) || this.isSuppressed('anonymousId', extra.p))) return true;
    const from = erasedPeriodOf(this.erasedPeriods, this.options.salt, anonymousId, userId, ts);
    if (from === undefined) return false;
    // Rare (an erased person's device): asked of the database, not kept in memory.
    const device = this.lookup('anonymousId', anonymousId as string);
    return !(device && this.q.claimedSince.get({ device: device.id, from, ts }));
  }

  private lookup(
    type: string,
    value: string,
    hash = identifierHash(this.options.salt, type, value),
  ): CachedIdent | undefined {
    const hit = this.cached(type, value);
    if (hit) return hit;
    if (!this.known.mightContain(hash)) return undefined;
    const row = this.q.findIdent.get(hash, type, value) as [number, number, string, number] | undefined;
    if (!row) return undefined;
    const c = {
      id: row[0],
      type: type as IdentifierType,
      value,
      firstTs: row[1],
      firstMsg: row[2],
      aliasOnly: row[3] === 1,
    };
    this.idents.add(c);
    return c;
  }

  /**
   * The identifier's id, creating it (as its own one-identifier profile) on first sight.
   * `viaAlias`: seen as an alias's previousId, not in a field of its own (see resolve.ts).
   */
  private ensure(type: IdentifierType, value: string, ts: number, msg: string, viaAlias = false): number {
    const cached = this.cached(type, value);
    const hash = cached ? 0 : identifierHash(this.options.salt, type, value);
    const found = cached ?? this.lookup(type, value, hash);
    if (found) {
      if (found.aliasOnly && !viaAlias) {
        // An event names it in its own field: an alias of this value meant it, the cluster changes.
        found.aliasOnly = false;
        this.q.clearAliasOnly.run(found.id);
        this.dirty.add(found.id);
      }
      if (earlier(ts, msg, found)) {
        // An older event arrived late: the profile it founds may now be the older one.
        found.firstTs = ts;
        found.firstMsg = msg;
        this.q.updateFirst.run(ts, msg, found.id);
        this.dirty.add(found.id);
      }
      return found.id;
    }
    const id = Number(this.q.insertIdent.run(hash, type, value, ts, msg, viaAlias ? 1 : 0).lastInsertRowid);
    this.known.add(hash);
    this.idents.add({ id, type, value, firstTs: ts, firstMsg: msg, aliasOnly: viaAlias });
    this.adjacency.set(id, []);
    this.written.set(id, NO_ROWS);
    // Its own one-identifier profile until a link says otherwise (written in recomputeDirty).
    this.fresh.add(id);
    return id;
  }

  private link(x: number, y: number, ts: number, msg: string): void {
    if (x === y) return;
    const [a, b] = x < y ? [x, y] : [y, x];
    // Either end's complete adjacency list says whether the link exists (loaded once, then kept):
    // the shorter one, since one end may have thousands of links. The newer identifier (b) is
    // loaded if neither is. A hub's list is never kept (a device every backend event names may
    // have millions of links): with two hubs, the link is looked up by its key.
    const hubA = this.hubs.has(a);
    const hubB = this.hubs.has(b);
    const la = hubA ? undefined : this.adjacency.get(a);
    const lb = hubB ? undefined : this.adjacency.get(b);
    let list = la && lb ? (la.length <= lb.length ? la : lb) : (la ?? lb);
    if (!list && !(hubA && hubB)) list = this.linksOf(hubB ? a : b);
    const known = list ? list.find((l) => l.a === a && l.b === b) : this.linkRow(a, b);
    if (known && !(ts < known.ts || (ts === known.ts && msg < known.messageId))) return;
    this.q.upsertLink.run(a, b, ts, msg);
    for (const end of [a, b]) {
      if (end === a ? hubA : hubB) continue;
      const list = this.adjacency.get(end);
      if (list) {
        // A new link is in neither list; only an earlier sighting of a known one is looked for.
        const existing = known && list.find((l) => l.a === a && l.b === b);
        if (existing) {
          existing.ts = ts;
          existing.messageId = msg;
        } else list.push({ a, b, ts, messageId: msg, detached: false });
      }
      if (!list || list.length > this.options.maxClusterIdentifiers) this.hubCandidates.add(end);
    }
    this.dirty.add(a);
    this.dirty.add(b);
  }

  /**
   * Registers one event's identifiers, links and trait writes. Returns the identifier ids for the
   * event row, or null when the event carries an erased (suppressed) identifier.
   */
  processEvent(
    anonymousId: string | null,
    userId: string | null,
    extraJson: string | null,
    ts: number,
    msg: string,
  ): { anon: number | null; user: number | null } | null {
    const extra: IdentityExtra | null = extraJson ? JSON.parse(extraJson) : null;
    if (this.anyErased && this.carriesSuppressed(anonymousId, userId, extra, ts)) return null;
    const ids: number[] = [];
    const user = userId ? this.ensure('userId', userId, ts, msg) : null;
    if (user !== null) ids.push(user);
    for (const [t, v] of extra?.t ?? []) ids.push(this.ensure(t as TraitIdentifierType, v, ts, msg));
    const anon = anonymousId ? this.ensure('anonymousId', anonymousId, ts, msg) : null;
    if (anon !== null) ids.push(anon);
    if (extra?.p) {
      // Both readings of the previousId; the resolver keeps the one the set of events supports.
      ids.push(this.ensure('userId', extra.p, ts, msg, true), this.ensure('anonymousId', extra.p, ts, msg, true));
    }
    for (let i = 0; i < ids.length; i++) {
      for (let j = i + 1; j < ids.length; j++) this.link(ids[i] as number, ids[j] as number, ts, msg);
    }
    if (extra?.i && anon !== null && user !== null) this.identified(anon, user, ts, msg);
    const owner = user ?? anon;
    if (owner !== null) {
      for (const [key, value, once] of extra?.w ?? []) this.traitRows.add(owner, ts, msg, key, value, once);
    }
    return { anon, user };
  }

  /**
   * Keeps an identify of `device` as `user`. It can move the device only once the device is
   * shared (linked to two userIds): then its cluster is replayed; before that, the replay that
   * makes it shared reads it.
   */
  private identified(device: number, user: number, ts: number, msg: string): void {
    if (this.q.insertIdentify.run(device, user, ts, msg).changes === 0 || this.hubs.has(device)) return;
    if (isShared(device, (id) => this.node(id), this.linksOf(device))) this.dirty.add(device);
  }

  /** Replays every cluster touched since the last call. */
  recomputeDirty(): void {
    this.findHubs();
    const done = new Set<number>();
    // Identifiers met in clusters past the limit: another seed's walk that meets one stops there.
    const oversized = new Set<number>();
    for (const seed of this.dirty) {
      if (done.has(seed)) continue;
      for (const id of this.recomputeCluster(seed, this.options.maxClusterIdentifiers, oversized)) done.add(id);
    }
    const grouped = new Set<number>();
    for (const id of this.fresh) {
      if (this.parked.has(id)) {
        if (!grouped.has(id)) for (const n of this.replayFreshGroup(id)) grouped.add(n);
        continue;
      }
      if (done.has(id)) continue;
      this.soloMemberships.add(id, BEGINNING, id);
      this.written.set(id, rowsHash([[BEGINNING, id]], []));
    }
    this.soloMemberships.flush();
    this.traitRows.flush();
    this.dirty = new Set();
    this.fresh = new Set();
    this.parked = new Set();
  }

  /**
   * Marks the identifiers whose links now outnumber the cluster limit as hubs: link() notes each
   * end that may be one, so every hub is found the batch its last link arrives in. Its
   * neighbours' profiles were computed with it: they are replayed, without it.
   */
  private findHubs(): void {
    const limit = this.options.maxClusterIdentifiers;
    const candidates = this.hubCandidates;
    this.hubCandidates = new Set();
    for (const id of candidates) {
      if (this.hubs.has(id)) continue;
      const links = this.linksOf(id);
      if (links.length <= limit) continue;
      this.hubs.add(id);
      this.q.markHub.run(id);
      // Nothing reads a hub's links again (see link()).
      this.adjacency.delete(id);
      for (const l of links) this.dirty.add(l.a === id ? l.b : l.a);
    }
  }

  /**
   * New identifiers whose cluster is past the limit: they form profiles among themselves (a new
   * person's userId and email stay together), and their links to the cluster are parked.
   */
  private replayFreshGroup(start: number): number[] {
    const { nodes, links } = this.gather(start, Number.POSITIVE_INFINITY, (id) => this.fresh.has(id));
    return this.replay(nodes, links, parkedReason(this.options.maxClusterIdentifiers));
  }

  /**
   * The identifiers reachable from `start` through links to identifiers that `follow` admits,
   * with those links; `complete` is false when more than `limit` are reachable, or when the walk
   * meets an identifier of `oversized` (its cluster, found past the limit earlier in this batch).
   * Past the limit it stops at once, even in the middle of a hub's links: a kiosk's device can
   * have hundreds of thousands, and each of its new users' clusters is walked from that user.
   * A hub is never walked into or through: started from, it is a cluster of its own.
   */
  private gather(start: number, limit: number, follow: (id: number) => boolean, oversized?: ReadonlySet<number>) {
    const nodes = new Map<number, ResolverNode>();
    const links: ResolverLink[] = [];
    const seen = new Set([start]);
    const queue = [start];
    if (this.hubs.has(start)) {
      const node = this.node(start);
      if (node) nodes.set(start, { ...node });
      return { nodes, links, complete: true };
    }
    const incomplete = () => ({ nodes, links, complete: false });
    while (queue.length > 0) {
      const id = queue.pop() as number;
      if (oversized?.has(id)) return incomplete();
      const node = this.node(id);
      if (!node) continue;
      // A copy: the resolver must see this replay's values even if the cache is reset meanwhile.
      nodes.set(id, { ...node });
      for (const l of this.linksOf(id)) {
        const other = l.a === id ? l.b : l.a;
        if (!follow(other) || this.hubs.has(other)) continue;
        // Kept from its a end only: a complete walk visits both ends of every link it follows.
        if (id === l.a) links.push({ ...l });
        if (seen.has(other)) continue;
        if (seen.size >= limit) return incomplete();
        seen.add(other);
        queue.push(other);
      }
    }
    return { nodes, links, complete: true };
  }

  private node(id: number): ResolverNode | undefined {
    const hit = this.idents.byId(id);
    if (hit) return hit;
    const row = this.q.ident.get(id) as [number, IdentifierType, string, number, string, number] | undefined;
    if (!row) return undefined;
    const n = { id: row[0], type: row[1], value: row[2], firstTs: row[3], firstMsg: row[4], aliasOnly: row[5] === 1 };
    this.idents.add(n);
    return n;
  }

  /** One link by its key (between two hubs, whose lists are not kept). */
  private linkRow(a: number, b: number): { ts: number; messageId: string } | undefined {
    const row = this.q.linkOf.get(a, b) as [number, string] | undefined;
    return row && { ts: row[0], messageId: row[1] };
  }

  private linksOf(id: number): ResolverLink[] {
    const hit = this.adjacency.get(id);
    if (hit) return hit;
    const list = (this.q.linksOf.all(id, id) as [number, number, number, string, number][]).map(
      ([a, b, ts, messageId, detached]) => ({ a, b, ts, messageId, detached: detached === 1 }),
    );
    this.adjacency.set(id, list);
    return list;
  }

  /**
   * Gathers the cluster (identifiers reachable through any link), replays it, writes the result;
   * answers the identifiers it covered. A cluster past `limit` is left as it was, so its new links
   * are parked: a replay of part of it would attribute identifiers from a partial view (gluing
   * people together). Its new identifiers form profiles among themselves (recomputeDirty). Admin
   * operations replay a cluster whole, whatever its size.
   */
  recomputeCluster(
    seed: number,
    limit = this.options.maxClusterIdentifiers,
    oversized: Set<number> = new Set(),
  ): number[] {
    const { nodes, links, complete } = this.gather(seed, limit, () => true, oversized);
    if (complete) {
      const hub = this.hubs.has(seed) ? hubReason(this.options.maxClusterIdentifiers) : undefined;
      return this.replay(nodes, links, hub);
    }
    for (const n of nodes.keys()) {
      if (this.fresh.has(n)) this.parked.add(n);
      oversized.add(n);
    }
    return [...nodes.keys()];
  }

  /** Resolves a whole cluster and writes the rows that changed; `parked` notes that reason in each identifier's history. */
  private replay(nodes: Map<number, ResolverNode>, links: ResolverLink[], parked?: string): number[] {
    const list = [...nodes.values()];
    const identifies: DeviceIdentify[] = [];
    for (const device of sharedDevices((id) => nodes.get(id), links)) {
      for (const [user, ts, messageId] of this.q.identifiesOf.all(device) as [number, number, string][])
        identifies.push({ device, user, ts, messageId });
    }
    const result = resolveCluster(list, [...links, ...identifyLinks(identifies, links)], this.options.caps);
    // Each identifier's new rows, grouped, so unchanged identifiers are skipped.
    const rows = new Map<number, { memberships: [number, number][]; log: [string, number, string, string][] }>();
    const rowsOf = (id: number) => {
      let r = rows.get(id);
      if (!r) {
        r = { memberships: [], log: [] };
        rows.set(id, r);
      }
      return r;
    };
    for (const m of result.memberships) rowsOf(m.identifierId).memberships.push([m.fromTs, m.founderId]);
    for (const e of result.log) {
      const detail = JSON.stringify(e.detail);
      for (const id of new Set(e.identifierIds)) rowsOf(id).log.push([e.kind, e.ts, e.messageId, detail]);
    }
    if (parked) {
      const detail = JSON.stringify({ reason: parked });
      for (const n of list) rowsOf(n.id).log.push(['cap_reached', n.firstTs, n.firstMsg, detail]);
    }
    for (const n of list) {
      const r = rowsOf(n.id);
      const hash = rowsHash(r.memberships, r.log);
      const before = this.written.get(n.id);
      if (before === hash) continue;
      if (before !== NO_ROWS) {
        this.q.deleteMemberships.run(n.id);
        this.q.deleteLog.run(n.id);
      }
      for (const [fromTs, founderId] of r.memberships) this.q.insertMembership.run(n.id, fromTs, founderId);
      for (const [kind, ts, msg, detail] of r.log) this.q.insertLog.run(n.id, kind, ts, msg, detail);
      this.written.set(n.id, hash);
    }
    return list.map((n) => n.id);
  }

  private startCaches(): void {
    this.idents = new IdentCache(this.cacheLimit);
    this.adjacency = new BoundedMap(this.cacheLimit);
    this.written = new BoundedMap(this.cacheLimit);
    this.hubs = new Set(this.q.hubIds.all() as number[]);
  }

  /**
   * After an erase took links away: those of `ids` that are hubs and no longer have more links
   * than the limit stop being hubs (call resetCaches, then replay them, whole).
   */
  unmarkHubs(ids: Iterable<number>): void {
    for (const id of ids) this.q.unmarkHub.run({ id, limit: this.options.maxClusterIdentifiers });
  }

  /** Forgets cached identifiers and links (after an erase or unmerge rewrote them). */
  resetCaches(): void {
    this.traitRows.discard();
    this.soloMemberships.discard();
    this.startCaches();
    this.dirty = new Set();
    this.fresh = new Set();
    this.parked = new Set();
    this.hubCandidates = new Set();
  }

  /** An erasure's identifiers and its periods on shared devices, once it committed. */
  suppress(hashes: string[], periods: ErasedPeriod[]): void {
    for (const h of hashes) this.suppressed.add(h);
    addErasedPeriods(this.erasedPeriods, periods);
  }
}

/** A hash of an identifier's membership and history rows, to tell whether a replay changed them. */
function rowsHash(memberships: readonly [number, number][], log: readonly [string, number, string, string][]): number {
  return hash53(JSON.stringify([memberships, log]));
}
