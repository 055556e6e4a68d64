import { afterEach, expect, it } from 'vitest';
import {
  ADMIN_KEY,
  type CollectorProcess,
  keptDatabase,
  sendBatch,
  spawnCollector,
  startTestCollector,
  type TestCollector,
  WRITE_KEY,
} from '../helpers/collector.js';
import { connectRaw, poisonTrigger } from '../helpers/raw-db.js';
import { describeStores } from '../helpers/stores.js';

let c: TestCollector | undefined;
let p: CollectorProcess | undefined;
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  await c?.close();
  c = undefined;
  p?.child.kill('SIGKILL');
  p = undefined;
  for (const f of cleanups.splice(0)) await f();
});

const t = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s)).toISOString();

describeStores('identity failures', (store) => {
  it('an event whose identity fails every time is set aside alone: the rest of its batch, and later events, get their profiles', async () => {
    c = await startTestCollector({ database: store.database() });
    const admin = { authorization: `Bearer ${c.adminKey}` };
    const profile = async (query: string) => {
      const res = await fetch(`${c?.url}/v1/profiles?${query}`, { headers: admin });
      return { status: res.status, body: (await res.json()) as { id: string; eventCount: number } };
    };
    await sendBatch(c, [{ type: 'track', event: 'Visit', anonymousId: 'dev-p', messageId: 'm0', timestamp: t(0) }]);
    expect((await profile('anonymousId=dev-p')).status).toBe(200);

    // A failure that recurs whenever one event's identity is applied: a real database error, raised
    // by a trigger another connection installs.
    const db = await connectRaw(store, c.dbPath);
    await db.exec(poisonTrigger(store, 'identifiers', 'value', 'u-poison'));
    const batch = [
      {
        type: 'identify',
        anonymousId: 'dev-1',
        userId: 'u-1',
        traits: { email: 'ada@example.com' },
        messageId: 'm1',
        timestamp: t(1),
      },
      { type: 'identify', anonymousId: 'dev-p', userId: 'u-poison', messageId: 'm2', timestamp: t(2) },
      { type: 'track', event: 'Bought', anonymousId: 'dev-1', messageId: 'm3', timestamp: t(3) },
      {
        type: 'identify',
        anonymousId: 'dev-2',
        traits: { email: 'ada@example.com' },
        messageId: 'm4',
        timestamp: t(4),
      },
    ];
    expect((await sendBatch(c, batch)).accepted).toBe(4);

    // Before: the whole identity batch failed on every retry, and every profile read with it.
    const ada = await profile('email=ada%40example.com');
    expect(ada.status).toBe(200);
    expect(ada.body.eventCount).toBe(3);
    expect((await profile('anonymousId=dev-2')).body.id).toBe(ada.body.id);
    expect((await profile('userId=u-poison')).status).toBe(404);
    const metrics = await (await fetch(`${c.url}/metrics`)).text();
    expect(metrics).toMatch(/^kimlik_identity_failures_total 1$/m);
    const failures = await db.rows('SELECT event_id, message_id, error FROM identity_failures');
    expect(failures).toEqual([expect.objectContaining({ message_id: 'm2', error: 'injected' })]);
    // Stored all the same: it was acknowledged.
    expect((await c.storedEvents()).map((e) => e.messageId)).toEqual(['m0', 'm1', 'm2', 'm3', 'm4']);

    // Identity goes on after it.
    await sendBatch(c, [{ type: 'identify', anonymousId: 'dev-3', userId: 'u-3', messageId: 'm5', timestamp: t(5) }]);
    expect((await profile('anonymousId=dev-3')).body.eventCount).toBe(1);

    // Erasing the device's person also erases the set-aside event that names the device, though no
    // profile holds it.
    await db.exec(store.name === 'sqlite' ? 'DROP TRIGGER poison' : 'DROP TRIGGER poison ON identifiers');
    await db.close();
    const dev = await profile('anonymousId=dev-p');
    const exported = (await (await fetch(`${c.url}/v1/profiles/${dev.body.id}/export`, { headers: admin })).json()) as {
      events: { messageId: string }[];
      setAsideEvents: { messageId: string }[];
    };
    expect(exported.events.map((e) => e.messageId)).toEqual(['m0']);
    expect(exported.setAsideEvents.map((e) => e.messageId)).toEqual(['m2']);
    const erased = await fetch(`${c.url}/v1/profiles/${dev.body.id}`, { method: 'DELETE', headers: admin });
    expect(erased.status).toBe(200);
    expect(await erased.json()).toMatchObject({ events: 2 });
    expect((await c.storedEvents()).map((e) => e.messageId)).toEqual(['m1', 'm3', 'm4', 'm5']);
  });

  it('a set-aside event is tried again when a collector starts: once the failure is gone, it gets its profile', async () => {
    const { database, remove } = keptDatabase(store);
    cleanups.push(remove);
    const stop = async () => {
      p?.child.kill('SIGTERM');
      await p?.exited;
      p = undefined;
    };
    const profile = async (query: string) => {
      const res = await fetch(`${p?.url}/v1/profiles?${query}`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
      return { status: res.status, body: (await res.json()) as { eventCount: number } };
    };
    p = await spawnCollector({ KIMLIK_DATABASE: database });
    const db = await connectRaw(store, database);
    await db.exec(poisonTrigger(store, 'identifiers', 'value', 'u-poison'));
    await sendBatch({ url: p.url, writeKey: WRITE_KEY }, [
      { type: 'identify', anonymousId: 'dev-p', userId: 'u-poison', messageId: 'm1', timestamp: t(1) },
    ]);
    expect((await profile('userId=u-poison')).status).toBe(404);
    expect(await db.rows('SELECT event_id FROM identity_failures')).toHaveLength(1);
    await stop();

    // Still failing: set aside again at the next start.
    p = await spawnCollector({ KIMLIK_DATABASE: database });
    expect((await profile('userId=u-poison')).status).toBe(404);
    expect(await db.rows('SELECT event_id FROM identity_failures')).toHaveLength(1);
    await stop();

    // Fixed (a new version, here the trigger gone): the next start applies it.
    await db.exec(store.name === 'sqlite' ? 'DROP TRIGGER poison' : 'DROP TRIGGER poison ON identifiers');
    p = await spawnCollector({ KIMLIK_DATABASE: database });
    expect((await profile('userId=u-poison')).body.eventCount).toBe(1);
    expect((await profile('anonymousId=dev-p')).body.eventCount).toBe(1);
    expect(await db.rows('SELECT event_id FROM identity_failures')).toHaveLength(0);
    await db.close();
  });
});
