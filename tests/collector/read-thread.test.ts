import http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import type { SqliteStore } from '../../collector/src/store/sqlite/sqlite-store.js';
import { sendBatch, startTestCollector, type TestCollector } from '../helpers/collector.js';
import { connectRaw } from '../helpers/raw-db.js';
import { TEST_STORES } from '../helpers/stores.js';

let c: TestCollector | null = null;
afterEach(async () => {
  await c?.close();
  c = null;
});

const admin = (c: TestCollector) => ({ authorization: `Bearer ${c.adminKey}` });

/** One request on `agent`; resolves with the status once the answer's head arrives. */
function send(
  c: TestCollector,
  agent: http.Agent,
  path: string,
  options: { method?: string; headers?: Record<string, string>; body?: string; onSent?: () => void } = {},
): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      `${c.url}${path}`,
      { agent, method: options.method ?? 'GET', headers: options.headers },
      (res) => {
        resolve(res.statusCode ?? 0);
        res.resume();
      },
    );
    req.on('error', reject);
    if (options.onSent) req.on('finish', options.onSent);
    req.end(options.body);
  });
}

/**
 * Which answers first: a slow admin read, or a track sent once the read's request is on the wire.
 * Both go over connections opened beforehand, so the collector reads the read's request first.
 */
async function firstAnswer(c: TestCollector, path: string): Promise<string[]> {
  const agents = [
    new http.Agent({ keepAlive: true, maxSockets: 1 }),
    new http.Agent({ keepAlive: true, maxSockets: 1 }),
  ];
  const [readAgent, trackAgent] = agents as [http.Agent, http.Agent];
  try {
    for (const agent of agents) expect(await send(c, agent, '/healthz')).toBe(200);
    const order: string[] = [];
    let track: Promise<void> = Promise.resolve();
    const read = send(c, readAgent, path, {
      headers: admin(c),
      onSent: () => {
        track = send(c, trackAgent, '/v1/track', {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Basic ${btoa(`${c.writeKey}:`)}` },
          body: JSON.stringify({ event: 'meanwhile', anonymousId: 'bystander' }),
        }).then((status) => {
          expect(status).toBe(200);
          order.push('track');
        });
      },
    }).then((status) => {
      expect(status).toBe(200);
      order.push('read');
    });
    await read;
    await track;
    return order;
  } finally {
    for (const agent of agents) agent.destroy();
  }
}

describe('reads on the reader thread [sqlite]', () => {
  it('an ingest request sent during a slow profile lookup is answered before the lookup', async () => {
    c = await startTestCollector();
    // 40 000 current traits: the lookup reads and returns every one, however the traits are folded.
    for (let b = 0; b < 10; b++) {
      await sendBatch(
        c,
        Array.from({ length: 10 }, (_, i) => ({
          type: 'identify',
          userId: 'long-history',
          traits: Object.fromEntries(Array.from({ length: 400 }, (_, k) => [`k${b * 10 + i}_${k}`, 'v'.repeat(40)])),
        })),
      );
    }
    const found = await fetch(`${c.url}/v1/profiles?userId=long-history`, { headers: admin(c) });
    const profile = (await found.json()) as { id: string; traits: Record<string, unknown> };
    expect(Object.keys(profile.traits)).toHaveLength(40_000);

    expect(await firstAnswer(c, `/v1/profiles/${profile.id}`)).toEqual(['track', 'read']);
    expect(await firstAnswer(c, `/v1/profiles/${profile.id}/history`)).toEqual(['track', 'read']);
  });

  it('an ingest request sent during a slow overview count is answered before the overview', async () => {
    c = await startTestCollector();
    // The overview counts merges over the whole identity log (the first count is not cached): a
    // large log, written here directly as a fixture, makes that count take a while.
    const raw = await connectRaw(TEST_STORES[0] as (typeof TEST_STORES)[number], c.dbPath);
    try {
      await raw.exec(`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 400000)
        INSERT INTO identity_log (identifier_id, kind, ts, message_id, detail)
        SELECT i, 'merge', i, 'm' || i, '{"from":"' || hex(randomblob(32)) || '"}' FROM n`);
    } finally {
      await raw.close();
    }
    expect(await firstAnswer(c, '/v1/stats?range=hour')).toEqual(['track', 'read']);
  });

  it('a read after the reader thread died answers 503, then the reader is back', async () => {
    c = await startTestCollector();
    await sendBatch(c, [{ type: 'identify', userId: 'u1', traits: { plan: 'pro' } }]);
    const lookup = () => fetch(`${c?.url}/v1/profiles?userId=u1`, { headers: admin(c as TestCollector) });
    expect((await lookup()).status).toBe(200);

    await (c.collector.store as SqliteStore).crashReaderForTest();
    const down = await lookup();
    expect(down.status).toBe(503);
    expect(down.headers.get('retry-after')).toBe('1');
    expect(((await down.json()) as { error: { code: string } }).error.code).toBe('KIMLIK_STORE_UNAVAILABLE');
    // Ingest does not need the reader.
    await sendBatch(c, [{ type: 'identify', userId: 'u1', traits: { plan: 'team' } }]);

    // An admin retrying as told gets through once the reader is back, and reads what was written meanwhile.
    let res = down;
    const deadline = Date.now() + 10_000;
    while (res.status !== 200 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      res = await lookup();
    }
    expect(res.status).toBe(200);
    expect(((await res.json()) as { traits: Record<string, unknown> }).traits).toEqual({ plan: 'team' });
  });
});
