import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { identifierHash, PROFILE_SALT_SETTING } from '../../collector/src/identity/profile-id.js';
import { BEGINNING } from '../../collector/src/identity/resolve.js';
import { SQLITE_MIGRATIONS } from '../../collector/src/store/migrations/sqlite.js';
import { startTestCollector, tempDir } from '../helpers/collector.js';

const dirs: { remove: () => void }[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) d.remove();
});

const t = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s)).toISOString();
const EVENTS = [
  { type: 'track', event: 'Viewed', anonymousId: 'laptop-1', messageId: 'm1', timestamp: t(1) },
  {
    type: 'identify',
    anonymousId: 'laptop-1',
    userId: 'u-1',
    traits: { email: 'Ada@Example.com', plan: 'pro' },
    messageId: 'm2',
    timestamp: t(2),
  },
  { type: 'track', event: 'Viewed', anonymousId: 'phone-1', messageId: 'm3', timestamp: t(3) },
  {
    type: 'identify',
    anonymousId: 'phone-1',
    userId: 'u-1',
    traits: { plan: 'team' },
    messageId: 'm4',
    timestamp: t(4),
  },
];

async function profileByEmail(url: string, adminKey: string) {
  const headers = { authorization: `Bearer ${adminKey}` };
  const res = await fetch(`${url}/v1/profiles?email=ada@example.com`, { headers });
  expect(res.status).toBe(200);
  const profile = (await res.json()) as { id: string; identifiers: unknown; traits: unknown };
  const events = (await (await fetch(`${url}/v1/profiles/${profile.id}/events`, { headers })).json()) as {
    events: { messageId: string }[];
  };
  return { ...profile, events: events.events.map((e) => e.messageId).sort() };
}

/** A fresh SQLite file path in a temporary directory removed after the test. */
function tempDatabase(): string {
  const dir = tempDir();
  dirs.push(dir);
  return join(dir.path, 'kimlik.db');
}

async function post(c: { url: string; writeKey: string }, batch: unknown[]) {
  const res = await fetch(`${c.url}/v1/batch`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Basic ${btoa(`${c.writeKey}:`)}` },
    body: JSON.stringify({ batch }),
  });
  expect(res.status).toBe(200);
}

describe('identity applied after the commit', () => {
  it('rebuilds the identity of events committed before their identity batch ran (a crash in between)', async () => {
    const database = tempDatabase();
    const first = await startTestCollector({ database });
    await post(first, EVENTS);
    const before = await profileByEmail(first.url, first.adminKey);
    expect(before.events).toEqual(['m1', 'm2', 'm3', 'm4']);
    await first.close();

    // The state a kill leaves between an ingest commit and its identity batch: the events are
    // stored, the graph and the events' attribution are not, and the watermark is behind them.
    const db = new Database(database);
    db.exec(`
      DELETE FROM identifiers; DELETE FROM links; DELETE FROM memberships; DELETE FROM identity_log;
      DELETE FROM trait_writes; DELETE FROM event_owner;
      UPDATE settings SET value = '0' WHERE key = 'identity_watermark';
    `);
    expect(db.prepare("SELECT value FROM settings WHERE key = 'identity_watermark'").pluck().get()).toBe('0');
    db.close();

    const again = await startTestCollector({ database });
    try {
      expect(await profileByEmail(again.url, again.adminKey)).toEqual(before);
    } finally {
      await again.close();
    }
  });

  it('keeps the attribution of events in a database written by the version that stored it in event columns', async () => {
    const database = tempDatabase();
    // Schema version 2 with one profile: device d-1 then user u-1 on it (no identity watermark:
    // that version applied identity inside every commit).
    const db = new Database(database);
    db.exec(
      'CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)',
    );
    for (const m of SQLITE_MIGRATIONS.filter((x) => x.version <= 2)) {
      db.exec(m.sql);
      db.prepare('INSERT INTO schema_migrations VALUES (?, ?, ?)').run(m.version, m.name, 0);
    }
    const salt = 'salt-v2';
    db.prepare('INSERT INTO settings VALUES (?, ?)').run(PROFILE_SALT_SETTING, salt);
    db.prepare("INSERT INTO sources (id, name, write_key, created_at) VALUES (1, 'web', 'wk_v2', 0)").run();
    const ident = db.prepare(
      'INSERT INTO identifiers (id, key_hash, type, value, first_ts, first_msg) VALUES (?, ?, ?, ?, ?, ?)',
    );
    ident.run(1, identifierHash(salt, 'anonymousId', 'd-1'), 'anonymousId', 'd-1', 1000, 'e1');
    ident.run(2, identifierHash(salt, 'userId', 'u-1'), 'userId', 'u-1', 2000, 'e2');
    db.prepare('INSERT INTO links (a, b, ts, message_id) VALUES (1, 2, 2000, ?)').run('e2');
    db.prepare('INSERT INTO memberships VALUES (1, ?, 1), (2, ?, 1)').run(BEGINNING, BEGINNING);
    const event = db.prepare(
      'INSERT INTO events (id, source_id, message_id, type, name, ts, received_at, payload, anon_ident, user_ident) VALUES (?, 1, ?, ?, ?, ?, 0, ?, ?, ?)',
    );
    event.run(
      1,
      'e1',
      'track',
      'Viewed',
      1000,
      JSON.stringify({ type: 'track', messageId: 'e1', anonymousId: 'd-1' }),
      1,
      null,
    );
    event.run(
      2,
      'e2',
      'identify',
      null,
      2000,
      JSON.stringify({ type: 'identify', messageId: 'e2', anonymousId: 'd-1', userId: 'u-1' }),
      1,
      2,
    );
    event.run(
      3,
      'e3',
      'track',
      'Paid',
      3000,
      JSON.stringify({ type: 'track', messageId: 'e3', userId: 'u-1' }),
      null,
      2,
    );
    db.close();

    const c = await startTestCollector({ database });
    try {
      const headers = { authorization: `Bearer ${c.adminKey}` };
      const found = await fetch(`${c.url}/v1/profiles?userId=u-1`, { headers });
      expect(found.status).toBe(200);
      const { id } = (await found.json()) as { id: string };
      const page = (await (await fetch(`${c.url}/v1/profiles/${id}/events`, { headers })).json()) as {
        events: { messageId: string }[];
      };
      expect(page.events.map((e) => e.messageId).sort()).toEqual(['e1', 'e2', 'e3']);
    } finally {
      await c.close();
    }
  });

  /** A collector with identity on, started on `database`, finds the person with all four events and the newest trait. */
  async function expectWholeProfile(database: string): Promise<void> {
    const c = await startTestCollector({ database });
    try {
      const profile = await profileByEmail(c.url, c.adminKey);
      expect(profile.events).toEqual(['m1', 'm2', 'm3', 'm4']);
      expect(profile.traits).toMatchObject({ plan: 'team' });
    } finally {
      await c.close();
    }
  }

  it('applies identity to the events of a database that began with identity off, once it is on', async () => {
    // Before: the first collector with identity on found no watermark, took the database for one
    // written by a version that applied identity inside each commit, and skipped every event.
    const database = tempDatabase();
    const off = await startTestCollector({ database, identity: false });
    await post(off, EVENTS);
    await off.close();
    await expectWholeProfile(database);
  });

  it('applies identity to the events stored while it was turned off once it is on again', async () => {
    const database = tempDatabase();
    const on = await startTestCollector({ database });
    await post(on, [EVENTS[0], EVENTS[1]]);
    await on.close();
    const off = await startTestCollector({ database, identity: false });
    await post(off, [EVENTS[2], EVENTS[3]]);
    await off.close();
    await expectWholeProfile(database);
  });
});
