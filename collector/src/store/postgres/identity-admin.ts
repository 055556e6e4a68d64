import type pg from 'pg';
import { namesAny, namingLinks } from '../../identity/carried-identifiers.js';
import { erasedPeriodRows } from '../../identity/erased-periods.js';
import type { IdentifierType, IdentityConfig } from '../../identity/identifiers.js';
import { suppressionHash } from '../../identity/profile-id.js';
import { BEGINNING } from '../../identity/resolve.js';
import { belongsToOthersToo, END, firstAfterErasure } from '../../identity/shared-device.js';
import { linksToDetach, undoneByUnmerge } from '../../identity/unmerge.js';
import type { UnmergeOutcome } from '../store.js';
import type { Db } from './connection.js';
import { invalidateIdentifierCaches } from './identifier-cache.js';
import type { PgIdentityWriter } from './identity-writer.js';
import { attributionFilter, currentProfileId, profileMembers } from './profile-queries.js';
import { readHistory } from './profile-reader.js';

/** Locks the profile's cluster, then reads its current members (another collector may have changed it). */
async function lockedMembers(c: Db, identity: PgIdentityWriter, requested: string) {
  const pid = await currentProfileId(c, requested);
  if (pid === null) return null;
  await identity.lockClusters(
    c,
    (await profileMembers(c, pid)).map((m) => m.id),
  );
  const now = await currentProfileId(c, pid);
  if (now === null) return null;
  return { pid: now, members: await profileMembers(c, now) };
}

/**
 * Events set aside because their identity failed (identity-applier.ts) are attributed to no one,
 * so the attribution does not find them: those that carry an erased identifier go too.
 */
async function eraseSetAside(c: Db, config: IdentityConfig, gone: readonly { type: string; value: string }[]) {
  const erased = new Set(gone.map((m) => `${m.type}:${m.value}`));
  const rows = (
    await c.query<{ id: number; received_at: number; payload: string }>(
      `SELECT e.id, e.received_at, e.payload FROM identity_failures f
       JOIN events e ON e.id = f.event_id AND e.received_at = f.received_at`,
    )
  ).rows.filter((r) => namesAny(r.payload, erased, config));
  if (rows.length === 0) return 0;
  const ids = rows.map((r) => r.id);
  await c.query('DELETE FROM identity_failures WHERE event_id = ANY($1::bigint[])', [ids]);
  const deleted = await c.query(
    `DELETE FROM events e USING unnest($1::bigint[], $2::bigint[]) AS g(id, received_at)
     WHERE e.id = g.id AND e.received_at = g.received_at`,
    [ids, rows.map((r) => r.received_at)],
  );
  return deleted.rowCount ?? 0;
}

/**
 * Other people's events naming the person (carried-identifiers.ts, namingLinks) go too, with the
 * trait writes they made: their profiles keep their own events. Before the links are deleted.
 */
async function eraseNaming(
  c: Db,
  config: IdentityConfig,
  gone: readonly { id: number; type: string; value: string }[],
) {
  const erased = new Set(gone.map((m) => `${m.type}:${m.value}`));
  const ids = gone.map((m) => m.id);
  const links = (
    await c.query<{ a: number; b: number; ts: number; message_id: string }>(
      'SELECT a, b, ts, message_id FROM links WHERE a = ANY($1::bigint[]) OR b = ANY($1::bigint[])',
      [ids],
    )
  ).rows.map((l) => ({ a: l.a, b: l.b, ts: l.ts, messageId: l.message_id }));
  const naming = namingLinks(new Set(ids), links);
  if (naming.length === 0) return 0;
  const rows = (
    await c.query<{
      owner: number;
      ts: number;
      event_id: number;
      received_at: number;
      message_id: string;
      payload: string;
    }>(
      `SELECT o.owner, o.ts, o.event_id, o.received_at, e.message_id, e.payload
       FROM unnest($1::bigint[], $2::bigint[], $3::text[]) AS n(owner, ts, message_id)
       JOIN event_owners o ON o.owner = n.owner AND o.ts = n.ts
       JOIN events e ON e.id = o.event_id AND e.received_at = o.received_at AND e.message_id = n.message_id`,
      [naming.map((n) => n.other), naming.map((n) => n.ts), naming.map((n) => n.messageId)],
    )
  ).rows.filter((r) => namesAny(r.payload, erased, config));
  if (rows.length === 0) return 0;
  await c.query(
    `DELETE FROM trait_writes t USING unnest($1::bigint[], $2::text[]) AS g(owner, message_id)
     WHERE t.identifier_id = g.owner AND t.message_id = g.message_id`,
    [rows.map((r) => r.owner), rows.map((r) => r.message_id)],
  );
  await c.query(
    `DELETE FROM event_owners o USING unnest($1::bigint[], $2::bigint[], $3::bigint[]) AS g(owner, ts, event_id)
     WHERE o.owner = g.owner AND o.ts = g.ts AND o.event_id = g.event_id`,
    [rows.map((r) => r.owner), rows.map((r) => r.ts), rows.map((r) => r.event_id)],
  );
  const deleted = await c.query(
    `DELETE FROM events e USING unnest($1::bigint[], $2::bigint[]) AS g(id, received_at)
     WHERE e.id = g.id AND e.received_at = g.received_at`,
    [rows.map((r) => r.event_id), rows.map((r) => r.received_at)],
  );
  return deleted.rowCount ?? 0;
}

/**
 * GDPR erasure in one transaction: deletes the profile's events, traits, identifiers, links and
 * history, and suppresses its identifiers (hashed) so later events carrying them are dropped by
 * every collector instead of re-creating the person.
 */
export async function eraseProfile(
  c: pg.PoolClient,
  identity: PgIdentityWriter,
  salt: string,
  config: IdentityConfig,
  requested: string,
): Promise<{ profileId: string; events: number; identifiers: number } | null> {
  // Identity batches in progress finish first (their attributions are then erased here), and
  // those that start meanwhile find the person suppressed.
  await identity.lockForErasure(c);
  const found = await lockedMembers(c, identity, requested);
  if (!found) return null;
  // Identifiers go and a shared device's first sighting moves later: no process may trust its cache.
  await invalidateIdentifierCaches(c);
  const { pid, members } = found;
  // A shared device stays (with the other person's events on it); only its time here is erased.
  const kept = members.filter(belongsToOthersToo);
  const gone = members.filter((m) => !belongsToOthersToo(m));
  // The unused reading of an alias's previousId (resolve.ts) holds the same value: it goes too.
  const readings = gone.filter((m) => m.type === 'userId' || m.type === 'anonymousId');
  if (readings.length > 0) {
    const twins = await c.query<{ id: number; type: IdentifierType; value: string }>(
      `SELECT id, type, value FROM identifiers WHERE alias_only
       AND (type, value) IN (SELECT * FROM unnest($1::text[], $2::text[]))`,
      [readings.map((m) => (m.type === 'userId' ? 'anonymousId' : 'userId')), readings.map((m) => m.value)],
    );
    for (const t of twins.rows) {
      if (!gone.some((g) => g.id === t.id)) gone.push({ ...t, ranges: [[BEGINNING, END]] });
    }
  }
  const ids = gone.map((m) => m.id);
  const keptIds = kept.map((m) => m.id);
  const { where, params } = attributionFilter(members);
  const events =
    ((
      await c.query(
        `WITH gone AS (DELETE FROM event_owners WHERE ${where} RETURNING event_id, received_at)
         DELETE FROM events e USING gone g WHERE e.id = g.event_id AND e.received_at = g.received_at`,
        params,
      )
    ).rowCount ?? 0) +
    (await eraseSetAside(c, config, gone)) +
    (await eraseNaming(c, config, gone));
  const now = Date.now();
  const neighbours = (
    await c.query<{ x: number }>(
      `SELECT b AS x FROM links WHERE a = ANY($1::bigint[]) AND NOT b = ANY($1::bigint[])
       UNION SELECT a FROM links WHERE b = ANY($1::bigint[]) AND NOT a = ANY($1::bigint[])`,
      [ids],
    )
  ).rows.map((r) => r.x);
  await c.query(
    `INSERT INTO erased_profiles (id, at)
     SELECT $1::text, $2::bigint UNION SELECT id, $2::bigint FROM profiles WHERE founder_id = ANY($3::bigint[])
     ON CONFLICT DO NOTHING`,
    [pid, now, ids],
  );
  await c.query('INSERT INTO suppressed (hash) SELECT * FROM unnest($1::text[]) ON CONFLICT DO NOTHING', [
    gone.map((m) => suppressionHash(salt, m.type, m.value)),
  ]);
  for (const sql of [
    'DELETE FROM trait_writes WHERE identifier_id = ANY($1::bigint[])',
    'DELETE FROM links WHERE a = ANY($1::bigint[]) OR b = ANY($1::bigint[])',
    'DELETE FROM device_identifies WHERE device = ANY($1::bigint[]) OR user_ident = ANY($1::bigint[])',
    'DELETE FROM memberships WHERE identifier_id = ANY($1::bigint[])',
    'DELETE FROM identity_log WHERE identifier_id = ANY($1::bigint[])',
    'DELETE FROM admin_log WHERE identifier_id = ANY($1::bigint[])',
    'DELETE FROM profiles WHERE founder_id = ANY($1::bigint[])',
    'DELETE FROM identifiers WHERE id = ANY($1::bigint[])',
  ]) {
    await c.query(sql, [ids]);
  }
  const periods = erasedPeriodRows(salt, kept);
  if (periods.length > 0) {
    await c.query(
      `INSERT INTO suppressed_periods (hash, from_ts, to_ts)
       SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[]) ON CONFLICT DO NOTHING`,
      [periods.map((p) => p[0]), periods.map((p) => p[1]), periods.map((p) => p[2])],
    );
  }
  for (const m of kept) {
    for (const [from, to] of m.ranges) {
      await c.query('DELETE FROM trait_writes WHERE identifier_id = $1 AND ts >= $2 AND ts < $3', [m.id, from, to]);
    }
    // Its history is rewritten by the replay below, without the erased person.
    await c.query('DELETE FROM identity_log WHERE identifier_id = $1', [m.id]);
    const first = (
      await c.query<{ ts: number; message_id: string }>(
        'SELECT ts, message_id FROM links WHERE a = $1 OR b = $1 ORDER BY ts, message_id LIMIT 1',
        [m.id],
      )
    ).rows[0];
    if (first) {
      const f = firstAfterErasure({ ts: first.ts, messageId: first.message_id });
      await c.query('UPDATE identifiers SET first_ts = $1, first_msg = $2 WHERE id = $3', [f.ts, f.msg, m.id]);
    }
  }
  // Profiles that were kept apart from this one by refused links, and shared devices, are replayed without it.
  const replayed = [...new Set([...neighbours, ...keptIds])];
  // A hub that lost links may be one no longer: its cluster is then replayed whole, with it.
  if (neighbours.length > 0) await identity.unmarkHubs(c, neighbours);
  if (replayed.length > 0) {
    await identity.lockClusters(c, replayed);
    await identity.replay(c, replayed);
  }
  return { profileId: pid, events, identifiers: gone.length };
}

/**
 * Detaches one identifier from a profile: its links to the profile's core (the part holding the
 * userId, or the founder) are cut and ignored from then on; the cluster is replayed without them.
 */
export async function unmergeIdentifier(
  c: Db,
  identity: PgIdentityWriter,
  requested: string,
  type: string,
  value: string,
): Promise<UnmergeOutcome> {
  const found = await lockedMembers(c, identity, requested);
  if (!found) return { error: 'profile' };
  const { pid, members } = found;
  const target = members.find((m) => m.type === type && m.value === value);
  if (!target) return { error: 'identifier' };
  const links = (
    await c.query<{ a: number; b: number }>(
      `SELECT a, b FROM links WHERE (a = ANY($1::bigint[]) OR b = ANY($1::bigint[])) AND NOT detached`,
      [members.map((m) => m.id)],
    )
  ).rows;
  const founder = (await c.query<{ founder_id: number }>('SELECT founder_id FROM profiles WHERE id = $1', [pid]))
    .rows[0]?.founder_id;
  const plan = linksToDetach(members, links, target.id, founder);
  if (!plan) return { error: 'alone' };
  const anchor = { id: plan.anchorId };
  const historyBefore = await readHistory(c, pid);
  let detachedLinks = 0;
  for (const { a, b } of plan.detach) {
    detachedLinks += (await c.query('UPDATE links SET detached = true WHERE a = $1 AND b = $2', [a, b])).rowCount ?? 0;
  }
  await identity.replay(c, [target.id, anchor.id]);
  const latest = 'SELECT profile_id FROM memberships WHERE identifier_id = $1 ORDER BY from_ts DESC LIMIT 1';
  const after = (await c.query<{ profile_id: string }>(latest, [target.id])).rows[0]?.profile_id;
  // The profile left behind is the anchor's: when the detached identifier founded it, the old id
  // went with it (ids follow founders), so `pid` now names the detached side.
  const profileId = (await c.query<{ profile_id: string }>(latest, [anchor.id])).rows[0]?.profile_id ?? pid;
  // Written after the replay, which rewrites the history: the entry keeps what the replay took out.
  const historyAfter = await readHistory(c, profileId);
  const undone = historyBefore && historyAfter ? undoneByUnmerge(historyBefore, historyAfter) : {};
  const detail = JSON.stringify({ identifier: `${type}:${value}`, from: pid, detachedLinks, ...undone });
  await c.query(
    "INSERT INTO admin_log (identifier_id, kind, at, detail) VALUES ($1, 'unmerge', $3, $4), ($2, 'unmerge', $3, $4)",
    [target.id, anchor.id, Date.now(), detail],
  );
  return { profileId, detachedProfileId: after ?? null, detachedLinks };
}
