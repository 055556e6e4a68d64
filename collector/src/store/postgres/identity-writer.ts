import type pg from 'pg';
import { int8Array } from './binary-arrays.js';
import { lockClusterMembers } from './cluster-lock.js';
import { type ReplayOptions, replayClusters } from './cluster-replay.js';
import { type Db, ERASURE_LOCK, lockXact } from './connection.js';
import {
  deviceIdentifies,
  type IdentityInput,
  identifierLists,
  parseExtras,
  wantedIdentifiers,
} from './event-identifiers.js';
import { linkCountSql, updateGraph } from './graph-update.js';
import { IdentifierCache } from './identifier-cache.js';
import { ensureIdentifiers, type Ident } from './identifier-ensure.js';
import { candidateLinks, linkChanges } from './link-changes.js';
import { checkAnySuppressed, suppressedEvents } from './suppression-check.js';
import { type IdentityIds, writeTraits } from './trait-writes.js';

export interface PgIdentityWriterOptions extends ReplayOptions {
  /** The store's schema: its advisory locks are per schema. */
  schema: string;
}

/**
 * The identity graph's writes on PostgreSQL, in the identity batches that follow the ingest
 * commits (identity-applier.ts), safe with many collector processes on one database.
 *
 * Why it is correct under concurrency: a transaction changes a cluster (adds or moves a link,
 * moves an identifier's first sighting, rewrites memberships) only while it holds row locks on
 * every identifier of that cluster. Locks are taken in id order, the cluster is re-read after
 * each round of locks until it stops growing, and only then replayed; so two processes linking
 * overlapping people queue behind each other and the second replays a cluster that includes the
 * first's links. Deadlocks (possible when a cluster grows while locking) abort one transaction,
 * which the caller retries whole. The common case — identifiers and links already known — takes
 * no lock at all.
 */
export class PgIdentityWriter {
  /** Identifiers this process resolved (identifier-cache.ts); the applier brackets each transaction with begin/keep. */
  readonly cache = new IdentifierCache();

  constructor(private readonly options: PgIdentityWriterOptions) {}

  /**
   * Keeps erasures out until the caller's transaction ends (identity batches; shared, so they
   * still run side by side). Why: a batch that applies only known identifiers takes no row lock,
   * so without it an erasure committing between the batch's suppression check and its commit
   * would leave the batch's events and attributions of the erased person behind. Taken before
   * the suppression check, which then sees every erasure committed before it.
   */
  async excludeErasures(c: pg.PoolClient): Promise<void> {
    await lockXact(c, this.options.schema, ERASURE_LOCK, 'shared');
  }

  /** Waits for the identity batches in progress and keeps new ones out until the erasure commits. */
  async lockForErasure(c: pg.PoolClient): Promise<void> {
    await lockXact(c, this.options.schema, ERASURE_LOCK);
  }

  /** See suppression-check.ts: sent pipelined, before the commit's first answer is awaited. */
  anySuppressed(c: Db): Promise<boolean> {
    return checkAnySuppressed(c);
  }

  /**
   * Indexes of the events carrying an identifier of an erased person (checked by the ingest
   * commit, so such events are never stored; `process` checks again when it applies them).
   */
  async suppressedAmong(c: Db, events: readonly IdentityInput[]): Promise<Set<number>> {
    return suppressedEvents(c, this.options.salt, identifierLists(events, parseExtras(events)), events);
  }

  async process(c: Db, events: readonly IdentityInput[], anySuppressed: Promise<boolean>): Promise<IdentityIds[]> {
    const extras = parseExtras(events);
    const lists = identifierLists(events, extras);
    const suppressed = (await anySuppressed)
      ? await suppressedEvents(c, this.options.salt, lists, events)
      : new Set<number>();
    const wanted = wantedIdentifiers(events, lists, suppressed);
    await this.cache.check(c);
    const idents = await ensureIdentifiers(c, this.options.salt, wanted, this.cache);
    const links = await linkChanges(c, candidateLinks(events, lists, suppressed, idents));
    const identifies = deviceIdentifies(events, lists, extras, suppressed, (k) => (idents.get(k) as Ident).id);
    await updateGraph(c, this.options, wanted, idents, links, identifies);
    return writeTraits(c, events, extras, lists, suppressed, idents);
  }

  /**
   * Locks every identifier of the clusters around `seeds` (cluster-lock.ts): afterwards no other
   * transaction can change them until commit. For admin operations: clusters of any size.
   */
  lockClusters(c: Db, seeds: Iterable<number>): Promise<Set<number>> {
    return lockClusterMembers(c, seeds, Number.POSITIVE_INFINITY);
  }

  /**
   * After an erase took links away: those of `ids` that are hubs and no longer have more links
   * than the limit stop being hubs (replay them next, whole). Erasure excludes identity batches.
   */
  async unmarkHubs(c: Db, ids: readonly number[]): Promise<void> {
    const limit = this.options.maxClusterIdentifiers;
    await c.query(
      `UPDATE identifiers i SET hub = false WHERE i.id = ANY($1::bigint[]) AND i.hub AND ${linkCountSql('i.id')} <= $3`,
      [int8Array(ids), limit + 1, limit],
    );
  }

  /**
   * Replays the clusters around `seeds` (cluster-replay.ts) for an admin's erase or unmerge:
   * whole, whatever their size (an unmerge of a shared device is what fixes such a cluster).
   */
  replay(c: Db, seeds: Iterable<number>): Promise<number[]> {
    return replayClusters(c, seeds, this.options, new Set(), Number.POSITIVE_INFINITY);
  }
}
