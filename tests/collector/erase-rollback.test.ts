import Database from 'better-sqlite3';
import { afterEach, expect, it } from 'vitest';
import { sendBatch, startTestCollector, type TestCollector } from '../helpers/collector.js';

let c: TestCollector | undefined;
afterEach(async () => {
  await c?.close();
  c = undefined;
});

const t = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s)).toISOString();

it('an erase that rolls back suppresses nothing: the person keeps their profile and new events are stored', async () => {
  c = await startTestCollector();
  const admin = { authorization: `Bearer ${c.adminKey}` };
  await sendBatch(c, [{ type: 'identify', anonymousId: 'dev-1', userId: 'u-1', messageId: 'm1', timestamp: t(1) }]);
  const profile = (await (await fetch(`${c.url}/v1/profiles?userId=u-1`, { headers: admin })).json()) as {
    id: string;
  };

  // A storage failure part-way through the erase (a real SQLite error in the real file, raised by
  // a trigger another connection installs), after the identifiers were marked for suppression.
  const db = new Database(c.dbPath);
  db.exec(`CREATE TRIGGER fail_erase BEFORE DELETE ON identifiers BEGIN SELECT RAISE(ABORT, 'injected'); END`);
  const failed = await fetch(`${c.url}/v1/profiles/${profile.id}`, { method: 'DELETE', headers: admin });
  expect(failed.status).toBe(503);
  db.exec('DROP TRIGGER fail_erase');
  db.close();

  // Nothing was erased, so nothing may be suppressed: the person's next events are stored.
  const later = await sendBatch(c, [
    { type: 'track', event: 'Back', userId: 'u-1', messageId: 'm2', timestamp: t(2) },
    { type: 'track', event: 'Back', anonymousId: 'dev-1', messageId: 'm3', timestamp: t(3) },
  ]);
  expect(later.accepted).toBe(2);
  expect(await (await fetch(`${c.url}/metrics`)).text()).toMatch(/^kimlik_events_suppressed_total 0$/m);
  const after = (await (await fetch(`${c.url}/v1/profiles?userId=u-1`, { headers: admin })).json()) as {
    id: string;
    eventCount: number;
  };
  expect(after).toMatchObject({ id: profile.id, eventCount: 3 });
});
