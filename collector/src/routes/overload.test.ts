import { describe, expect, it } from 'vitest';
import { startTestCollector } from '../../../tests/helpers/collector.js';
import { describeStores } from '../../../tests/helpers/stores.js';
import type { SqliteStore } from '../store/sqlite/sqlite-store.js';

const auth = (key: string) => `Basic ${Buffer.from(`${key}:`).toString('base64')}`;
const batch = (prefix: string, n: number) =>
  Array.from({ length: n }, (_, i) => ({ type: 'track', event: 'E', anonymousId: 'a', messageId: `${prefix}-${i}` }));

/**
 * Sends the batches at once; some must be refused 429 KIMLIK_OVERLOADED with Retry-After and some
 * stored. Returns how many were answered 200.
 */
async function sendAtOnce(url: string, writeKey: string, batches: unknown[][]): Promise<number> {
  const answers = await Promise.all(
    batches.map((b) =>
      fetch(`${url}/v1/batch`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: auth(writeKey) },
        body: JSON.stringify({ batch: b }),
      }).then(async (r) => ({ status: r.status, retryAfter: r.headers.get('retry-after'), body: await r.json() })),
    ),
  );
  const limited = answers.filter((a) => a.status === 429);
  const ok = answers.filter((a) => a.status === 200);
  expect(limited.length).toBeGreaterThan(0);
  expect(ok.length).toBeGreaterThan(0);
  for (const a of limited) {
    expect(a.retryAfter).toBe('1');
    expect(a.body.error.code).toBe('KIMLIK_OVERLOADED');
  }
  return ok.length;
}

describeStores('overload', (store) => {
  it('answers 429 with Retry-After when the ingest queue is full, storing nothing of those requests', async () => {
    const c = await startTestCollector({ maxQueuedEvents: 150, database: store.database() });
    try {
      // One invalid event each: counted as rejected once per final answer, not per attempt.
      const ok = await sendAtOnce(
        c.url,
        c.writeKey,
        Array.from({ length: 40 }, (_, k) => [...batch(`r${k}`, 100), { type: 'track', event: 'No identity' }]),
      );
      expect(await c.storedEvents()).toHaveLength(ok * 100);
      const metrics = await (await fetch(`${c.url}/metrics`)).text();
      const counted = /kimlik_events_rejected_total\{code="KIMLIK_EVENT_IDENTITY_MISSING"\} (\d+)/.exec(metrics)?.[1];
      expect(Number(counted)).toBe(ok);
    } finally {
      await c.close();
    }
  });

  it('bounds the queue in bytes too: large events get 429 long before the event bound (memory grew with event size)', async () => {
    const c = await startTestCollector({ maxQueuedBytes: 300_000, database: store.database() });
    const big = 'x'.repeat(20_000);
    try {
      // 10 events of 20 KB: 200 KB per request, so at most one waits beside another.
      const ok = await sendAtOnce(
        c.url,
        c.writeKey,
        Array.from({ length: 30 }, (_, k) => batch(`b${k}`, 10).map((e) => ({ ...e, properties: { big } }))),
      );
      expect(await c.storedEvents()).toHaveLength(ok * 10);
    } finally {
      await c.close();
    }
  });

  it('admits a batch larger than the queue bound when nothing else is queued (it was refused forever)', async () => {
    const c = await startTestCollector({ maxQueuedEvents: 100, database: store.database() });
    try {
      const r = await fetch(`${c.url}/v1/batch`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: auth(c.writeKey) },
        body: JSON.stringify({ batch: batch('big', 120) }),
      });
      expect(r.status).toBe(200);
      expect(await c.storedEvents()).toHaveLength(120);
    } finally {
      await c.close();
    }
  });
});

// The PostgreSQL equivalent (the database restarted under load) is tests/postgres/outage.test.ts.
describe('store failure [sqlite]', () => {
  it('answers 503 while the writer is down, then recovers by itself', async () => {
    const c = await startTestCollector();
    try {
      const send = (prefix: string) =>
        fetch(`${c.url}/v1/batch`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: auth(c.writeKey) },
          body: JSON.stringify({ batch: batch(prefix, 10) }),
        });
      expect((await send('before')).status).toBe(200);
      await (c.collector.store as SqliteStore).crashWriterForTest();
      const down = await send('during');
      expect(down.status).toBe(503);
      expect(down.headers.get('retry-after')).toBe('1');
      expect(((await down.json()) as { error: { code: string } }).error.code).toBe('KIMLIK_STORE_UNAVAILABLE');
      expect((await fetch(`${c.url}/readyz`)).status).toBe(503);
      // A client retrying as told gets through once the writer is back.
      let status = 0;
      const deadline = Date.now() + 10_000;
      while (status !== 200 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 200));
        status = (await send('during')).status;
      }
      expect(status).toBe(200);
      const ids = (await c.storedEvents()).map((e) => e.messageId);
      expect(ids.filter((id) => String(id).startsWith('during-'))).toHaveLength(10);
      expect(ids.filter((id) => String(id).startsWith('before-'))).toHaveLength(10);
    } finally {
      await c.close();
    }
  });
});
