import { gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { startTestCollector, type TestCollector } from '../helpers/collector.js';
import { describeStores, dropTestDatabase } from '../helpers/stores.js';

let c: TestCollector | undefined;
afterEach(async () => {
  await c?.close();
  c = undefined;
});

const admin = (c: TestCollector) => ({ authorization: `Bearer ${c.adminKey}` });
const send = (c: TestCollector, batch: unknown[]) =>
  fetch(`${c.url}/v1/batch`, {
    method: 'POST',
    headers: { authorization: `Basic ${btoa(`${c.writeKey}:`)}`, 'content-type': 'application/json' },
    body: JSON.stringify({ batch }),
  });

/** Reads SSE messages from a fetch() body until `until` says stop (bounded by the test timeout). */
async function readStream(
  res: Response,
  until: (messages: { event: string; data: unknown }[]) => boolean,
): Promise<{ event: string; data: unknown }[]> {
  // DOM and Node typings of TextDecoderStream disagree; at run time it is the web stream it says.
  const decoder = new TextDecoderStream() as unknown as ReadableWritablePair<string, Uint8Array>;
  const reader = (res.body as ReadableStream<Uint8Array>).pipeThrough(decoder).getReader();
  const messages: { event: string; data: unknown }[] = [];
  let pending = '';
  while (!until(messages)) {
    const { value, done } = await reader.read();
    if (done) break;
    pending += value;
    for (let end = pending.indexOf('\n\n'); end !== -1; end = pending.indexOf('\n\n')) {
      const raw = pending.slice(0, end);
      pending = pending.slice(end + 2);
      const event = /^event: (.*)$/m.exec(raw)?.[1];
      const data = /^data: (.*)$/m.exec(raw)?.[1];
      if (event && data) messages.push({ event, data: JSON.parse(data) });
    }
  }
  await reader.cancel();
  return messages;
}

describe('event stream (GET /v1/stream/events)', () => {
  it('answers only to the admin key; the write key opens nothing', async () => {
    c = await startTestCollector();
    for (const authorization of [undefined, `Bearer ${c.writeKey}`, `Basic ${btoa(`${c.writeKey}:`)}`]) {
      const res = await fetch(`${c.url}/v1/stream/events`, { headers: authorization ? { authorization } : {} });
      expect(res.status).toBe(401);
      expect((await res.json()).error.code).toBe('KIMLIK_ADMIN_AUTH_REQUIRED');
    }
  });

  it('streams accepted and rejected events with the reason, batched', async () => {
    c = await startTestCollector();
    const res = await fetch(`${c.url}/v1/stream/events`, { headers: admin(c) });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const events = Array.from({ length: 50 }, (_, i) => ({ type: 'track', userId: 'u1', event: `E${i}` }));
    const reading = readStream(
      res,
      (m) => m.flatMap((x) => (x.data as { items?: unknown[] }).items ?? []).length >= 51,
    );
    await send(c, [...events, { type: 'track', event: 'No identity' }]);
    const messages = await reading;
    expect(messages[0]?.event).toBe('hello');
    const items = messages.flatMap((m) => (m.data as { items?: Record<string, any>[] }).items ?? []);
    expect(items.filter((i) => i.kind === 'event').map((i) => i.event.event)).toEqual(events.map((e) => e.event));
    expect(items.find((i) => i.kind === 'rejected')).toMatchObject({
      kind: 'rejected',
      index: 50,
      code: 'KIMLIK_EVENT_IDENTITY_MISSING',
      reason: expect.stringContaining('userId'),
    });
    // 51 items in far fewer messages than items.
    expect(messages.filter((m) => m.event === 'items').length).toBeLessThan(10);
  });

  it('a reader that stops reading costs bounded memory and reports what it missed', async () => {
    c = await startTestCollector();
    const res = await fetch(`${c.url}/v1/stream/events`, { headers: admin(c) });
    // Not reading while 12 000 events (26 MB) arrive: the socket fills, the buffer stops at 2 000.
    for (let k = 0; k < 60; k++) {
      const batch = Array.from({ length: 200 }, (_, i) => ({
        type: 'track',
        userId: `u${i}`,
        event: 'Bulk',
        properties: { pad: 'x'.repeat(2000), k },
      }));
      expect((await send(c, batch)).status).toBe(200);
    }
    let received = 0;
    let dropped = 0;
    await readStream(res, (m) => {
      received = 0;
      dropped = 0;
      for (const x of m) {
        received += ((x.data as { items?: unknown[] }).items ?? []).length;
        dropped += (x.data as { dropped?: number }).dropped ?? 0;
      }
      return received + dropped >= 12_000;
    });
    expect(received + dropped).toBe(12_000);
    expect(dropped).toBeGreaterThan(0);
  });

  it('close() ends open streams instead of waiting for them', async () => {
    c = await startTestCollector();
    const res = await fetch(`${c.url}/v1/stream/events`, { headers: admin(c) });
    const reading = readStream(res, () => false);
    const started = Date.now();
    await c.close();
    c = undefined;
    const messages = await reading;
    expect(messages.at(-1)).toEqual({ event: 'bye', data: { reason: 'shutdown' } });
    expect(Date.now() - started).toBeLessThan(5000);
  });
});

// Store.stats() is part of the storage port: the same answers from every store.
describeStores('stats and sources (GET /v1/stats, /v1/sources)', (store) => {
  let database: string | undefined;
  afterEach(async () => {
    // The collector lets go of the database before its schema is dropped.
    await c?.close();
    c = undefined;
    await dropTestDatabase(database);
  });

  it('counts events per minute, top events, profiles, merges and rejects', async () => {
    database = store.database();
    c = await startTestCollector(database ? { database } : {});
    const at = (minutes: number) => new Date(Date.now() - 60 * 60_000 + minutes * 60_000).toISOString();
    await send(c, [
      { type: 'page', anonymousId: 'A', name: 'Home', timestamp: at(0) },
      { type: 'identify', anonymousId: 'A', userId: 'u1', traits: { email: 'ada@x.io' }, timestamp: at(5) },
      { type: 'page', anonymousId: 'B', name: 'Home', timestamp: at(20) },
      { type: 'identify', anonymousId: 'B', traits: { email: 'Ada@X.io' }, timestamp: at(25) },
      { type: 'track', userId: 'u1', event: 'Order Completed', timestamp: at(30) },
      { type: 'track', userId: 'u2', event: 'Order Completed', timestamp: at(31) },
      { type: 'track', event: 'No identity' },
    ]);
    // The merge entries the profile's history lists are the ones counted.
    const profile = await (await fetch(`${c.url}/v1/profiles?email=ada@x.io`, { headers: admin(c) })).json();
    const history = await (await fetch(`${c.url}/v1/profiles/${profile.id}/history`, { headers: admin(c) })).json();
    const merges = history.identity.filter((e: { kind: string }) => e.kind === 'merge').length;
    expect(merges).toBeGreaterThan(0);
    const res = await fetch(`${c.url}/v1/stats?range=hour`, { headers: admin(c) });
    expect(res.status).toBe(200);
    const stats = await res.json();
    expect(stats.buckets).toHaveLength(60);
    expect(stats.buckets.reduce((s: number, b: { events: number }) => s + b.events, 0)).toBe(6);
    // All received just now: in the current minute, or the one before when the minute turned
    // between the send and the read (CI once read at the turn and found the last bucket empty).
    expect(stats.buckets.at(-1).events + stats.buckets.at(-2).events).toBe(6);
    expect(stats.topEvents.slice(0, 2)).toEqual([
      { type: 'identify', name: null, events: 2 },
      { type: 'page', name: 'Home', events: 2 },
    ]);
    expect(stats.totals).toEqual({ events: 6, profiles: 2, merges, rejected: 1 });
    expect(stats.rejected.byCode).toEqual({ KIMLIK_EVENT_IDENTITY_MISSING: 1 });

    const day = await (await fetch(`${c.url}/v1/stats?range=day`, { headers: admin(c) })).json();
    expect(day.buckets).toHaveLength(1440);
    expect((await fetch(`${c.url}/v1/stats?range=week`, { headers: admin(c) })).status).toBe(400);
    expect((await fetch(`${c.url}/v1/stats`, { headers: { authorization: `Bearer ${c.writeKey}` } })).status).toBe(401);

    const sources = await (await fetch(`${c.url}/v1/sources`, { headers: admin(c) })).json();
    expect(sources.sources[0]).toMatchObject({ id: 1, writeKey: c.writeKey });
    expect((await fetch(`${c.url}/v1/sources`)).status).toBe(401);
  });
});

describe('the dashboard files (/ui)', () => {
  it('serves the page with a strict policy and versioned, cacheable assets', async () => {
    c = await startTestCollector();
    const page = await fetch(`${c.url}/ui`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('cache-control')).toBe('no-cache');
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    const html = await page.text();
    const js = /src="(\/ui\/app\.js\?v=[\w-]+)"/.exec(html)?.[1] as string;
    const css = /href="(\/ui\/styles\.css\?v=[\w-]+)"/.exec(html)?.[1] as string;
    expect(js).toBeTruthy();
    const script = await fetch(`${c.url}${js}`);
    expect(script.headers.get('content-type')).toBe('application/javascript; charset=utf-8');
    expect(script.headers.get('cache-control')).toContain('immutable');
    const body = await script.text();
    // Everything is served from here: no CDN URL in the bundle.
    expect(body).not.toMatch(/https?:\/\/(cdn|unpkg|esm\.sh|jsdelivr)/);
    // A light page: the size budget (gzipped) only goes down.
    expect(gzipSync(body).length).toBeLessThan(20_000);
    const style = await fetch(`${c.url}${css}`);
    expect(style.headers.get('content-type')).toBe('text/css; charset=utf-8');
    const again = await fetch(`${c.url}/ui/app.js`, { headers: { 'if-none-match': script.headers.get('etag') ?? '' } });
    expect(again.status).toBe(304);
    expect((await fetch(`${c.url}/ui/`)).status).toBe(200);
    expect((await fetch(`${c.url}/ui/secret.txt`)).status).toBe(404);
    expect((await fetch(`${c.url}/ui/..%2Fpackage.json`)).status).toBe(404);
  });
});
