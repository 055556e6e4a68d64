import { afterEach, expect, it } from 'vitest';
import { startTestCollector, type TestCollector } from '../helpers/collector.js';
import { connectRaw, poisonTrigger } from '../helpers/raw-db.js';
import { describeStores } from '../helpers/stores.js';

let c: TestCollector | undefined;
afterEach(async () => {
  await c?.close();
  c = undefined;
});

const track = (messageId: string, anonymousId = 'dev-1') => ({
  type: 'track',
  event: 'Viewed',
  anonymousId,
  messageId,
});

async function post(batch: Record<string, unknown>[]) {
  const res = await fetch(`${c?.url}/v1/batch`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Basic ${btoa(`${c?.writeKey}:`)}` },
    body: JSON.stringify({ batch }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describeStores('events the database refuses', (store) => {
  it('an event whose write fails every time is rejected alone: the rest of its batch, and the requests sharing its commit, are stored', async () => {
    c = await startTestCollector({ database: store.database() });
    const db = await connectRaw(store, c.dbPath);
    await db.exec(poisonTrigger(store, 'events', 'message_id', 'm-poison'));

    // Sent together, so that they share commits. Before: every request sharing the poisoned
    // event's commit was answered 503, on every retry.
    const others = Array.from({ length: 8 }, (_, r) =>
      post(Array.from({ length: 5 }, (_, i) => track(`m-${r}-${i}`, `dev-${r}`))),
    );
    // With an invalid event before it: each rejection names its own index in the request.
    const poisoned = post([track('m-a'), { type: 'track', event: 'No one' }, track('m-poison'), track('m-b')]);
    for (const answer of await Promise.all(others))
      expect(answer).toMatchObject({ status: 200, body: { accepted: 5 } });
    const answer = await poisoned;
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({
      accepted: 2,
      rejected: [
        { index: 1, code: 'KIMLIK_EVENT_IDENTITY_MISSING' },
        { index: 2, messageId: 'm-poison', code: 'KIMLIK_EVENT_NOT_STORED' },
      ],
    });
    expect(JSON.stringify(answer.body.rejected)).toContain('injected');

    // Alone, it is refused with a 400 like any batch whose events are all rejected.
    const alone = await post([track('m-poison')]);
    expect(alone.status).toBe(400);
    expect(alone.body).toMatchObject({ rejected: [{ index: 0, code: 'KIMLIK_EVENT_NOT_STORED' }] });

    const stored = (await c.storedEvents()).map((e) => e.messageId as string);
    expect(stored).toHaveLength(42);
    expect(stored).not.toContain('m-poison');
    expect(stored).toEqual(expect.arrayContaining(['m-a', 'm-b', 'm-0-0', 'm-7-4']));
    // A retry of the accepted ones is deduplicated as usual.
    expect((await post([track('m-a'), track('m-b')])).body).toMatchObject({ accepted: 2, duplicates: 2 });
    const metrics = await (await fetch(`${c.url}/metrics`)).text();
    expect(metrics).toMatch(/^kimlik_events_rejected_total\{code="KIMLIK_EVENT_NOT_STORED"\} 2$/m);
    await db.close();
  });
});
