import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { JsonObject, WireEvent } from '@kimlik/core';
import { afterAll, expect, it } from 'vitest';
import { population, rng, shuffle } from '../../../../tests/helpers/population.js';
import { eventIdentity } from '../../identity/event-identity.js';
import { resolveOptions } from '../../options.js';
import { IdentityApplier, type PendingIdentity } from './identity-applier.js';
import { IdentityWriter } from './identity-writer.js';
import { migrate, openDatabase } from './open.js';

const dir = mkdtempSync(join(tmpdir(), 'kimlik-identity-writer-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const options = resolveOptions({});
const T0 = Date.parse('2026-02-01T00:00:00.000Z');

/** Applies the events' identity in batches of 50 with caches of `cacheLimit` entries; returns every identity table's rows. */
function identityTables(
  name: string,
  events: WireEvent[],
  cacheLimit: number,
  maxClusterIdentifiers = options.maxClusterIdentifiers,
): Record<string, unknown[]> {
  const db = openDatabase(join(dir, `${name}.db`), { synchronous: 'NORMAL' });
  migrate(db);
  const writer = new IdentityWriter(
    db,
    {
      salt: 'salt',
      caps: { maxIdentifiers: options.maxProfileIdentifiers, maxMerges: options.maxProfileMerges },
      maxClusterIdentifiers,
    },
    cacheLimit,
  );
  const applier = new IdentityApplier(db, writer, options.identityConfig);
  events.forEach((e, i) => {
    const ts = Date.parse(e.timestamp as string);
    const id = eventIdentity(e, ts, e.messageId as string, options.identityConfig);
    const pending: PendingIdentity = { eventId: i + 1, ts, messageId: e.messageId as string, ...id };
    applier.enqueue([pending]);
    if (applier.size === 50) applier.apply();
  });
  applier.apply();
  const tables: Record<string, unknown[]> = {};
  // identity_log's own row ids are left out: a replay rewrites an identifier's history rows.
  for (const [table, columns, order] of <[string, string, string][]>[
    ['identifiers', '*', 'id'],
    ['links', '*', 'a, b'],
    ['memberships', '*', 'identifier_id, from_ts'],
    ['identity_log', 'identifier_id, kind, ts, message_id, detail', 'identifier_id, ts, kind, detail'],
    ['trait_writes', '*', 'id'],
    ['device_identifies', '*', 'device, ts, message_id'],
    ['event_owner', '*', 'owner, ts, event_id'],
  ]) {
    tables[table] = db.prepare(`SELECT ${columns} FROM ${table} ORDER BY ${order}`).raw().all();
  }
  db.close();
  return tables;
}

/**
 * The caches only save reads: with them holding a handful of entries (identifiers, adjacency lists
 * and written-row hashes leave and come back all the time), identity writes the same rows as with
 * room for everything.
 */
it('identity writes the same rows whether its caches hold everything or evict all the time', () => {
  const events = shuffle(population(11, 300, 3_000, T0), rng(5)) as unknown as WireEvent[];
  const roomy = identityTables('roomy', events, 1_000_000);
  const evicting = identityTables('evicting', events, 8);
  expect((roomy.links as unknown[]).length).toBeGreaterThan(100);
  expect(evicting).toEqual(roomy);
});

/**
 * Hubs' links are never kept in memory (a device every backend event names may have millions):
 * links to a hub are checked through the other end, between two hubs by their key. Same rows.
 */
it('with hubs: the same rows whatever the caches hold, and the same links as without hubs', () => {
  const rand = rng(7);
  const events: WireEvent[] = [];
  for (let i = 0; i < 400; i++) {
    const timestamp = new Date(T0 + Math.floor(rand() * 86_400_000)).toISOString();
    const user = `u${i % 60}`;
    // Every backend event names the device "server"; a test address is typed for many accounts.
    const traits: JsonObject = i % 3 === 0 ? { email: 'test@example.com' } : {};
    events.push({ type: 'identify', messageId: `m${i}`, timestamp, anonymousId: 'server', userId: user, traits });
    events.push({ type: 'identify', messageId: `p${i}`, timestamp, anonymousId: `phone-${i % 60}`, userId: user });
  }
  const roomy = identityTables('hubs-roomy', events, 1_000_000, 10);
  const evicting = identityTables('hubs-evicting', events, 8, 10);
  const hubs = (roomy.identifiers as unknown[][]).filter((row) => row[row.length - 1] === 1);
  expect(hubs.map((row) => row[3]).sort()).toEqual(['server', 'test@example.com']);
  expect(evicting).toEqual(roomy);
  // Hubs change profiles, never the links kept (each pair at its earliest occurrence).
  expect(roomy.links).toEqual(identityTables('no-hubs', events, 1_000_000).links);
});
