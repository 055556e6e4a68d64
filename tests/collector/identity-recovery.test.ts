import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
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

describe('identity applied after the commit', () => {
  it('rebuilds the identity of events committed before their identity batch ran (a crash in between)', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const database = join(dir.path, 'kimlik.db');
    const first = await startTestCollector({ database });
    const res = await fetch(`${first.url}/v1/batch`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Basic ${btoa(`${first.writeKey}:`)}` },
      body: JSON.stringify({ batch: EVENTS }),
    });
    expect(res.status).toBe(200);
    const before = await profileByEmail(first.url, first.adminKey);
    expect(before.events).toEqual(['m1', 'm2', 'm3', 'm4']);
    await first.close();

    // The state a kill leaves between an ingest commit and its identity batch: the events are
    // stored, the graph and the events' attribution are not, and the watermark is behind them.
    const db = new Database(database);
    db.exec(`
      DELETE FROM identifiers; DELETE FROM links; DELETE FROM memberships; DELETE FROM identity_log;
      DELETE FROM trait_writes; UPDATE events SET anon_ident = NULL, user_ident = NULL;
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
});
