import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  ADMIN_KEY,
  type CollectorProcess,
  fetchStoredEvents,
  spawnCollector,
  tempDir,
  WRITE_KEY,
} from '../helpers/collector.js';

const auth = `Basic ${Buffer.from(`${WRITE_KEY}:`).toString('base64')}`;

function batchOf(prefix: string, n: number) {
  return Array.from({ length: n }, (_, i) => ({
    type: 'track',
    event: 'Durability Probe',
    anonymousId: `anon-${prefix}`,
    messageId: `${prefix}-${i}`,
  }));
}

const dirs: { remove: () => void }[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) d.remove();
});

describe('collector process durability', () => {
  it('loses no acknowledged event when killed with SIGKILL mid-load', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const db = join(dir.path, 'kimlik.db');
    const proc: CollectorProcess = await spawnCollector({ KIMLIK_DATABASE: db });
    const acked = new Set<string>();
    /** Device IDs of acknowledged batches, in acknowledgement order. */
    const ackedDevices: string[] = [];
    let sent = 0;
    let stop = false;
    // Eight concurrent senders; the kill lands while requests are in flight.
    const senders = Array.from({ length: 8 }, async (_, s) => {
      for (let k = 0; !stop && k < 10_000; k++) {
        const batch = batchOf(`s${s}-r${k}`, 50);
        sent++;
        try {
          const res = await fetch(`${proc.url}/v1/batch`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: auth },
            body: JSON.stringify({ batch }),
          });
          if (res.status === 200) {
            for (const e of batch) acked.add(e.messageId);
            ackedDevices.push(`anon-s${s}-r${k}`);
          }
        } catch {
          // Connection reset by the kill: these events were never acknowledged.
          return;
        }
      }
    });
    const deadline = Date.now() + 10_000;
    while (acked.size < 5_000 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    proc.child.kill('SIGKILL');
    stop = true;
    await Promise.all(senders);
    expect((await proc.exited).signal).toBe('SIGKILL');
    expect(acked.size).toBeGreaterThan(0);

    const again = await spawnCollector({ KIMLIK_DATABASE: db });
    try {
      const stored = await fetchStoredEvents(again.url, ADMIN_KEY);
      const ids = new Set(stored.map((e) => e.messageId as string));
      const lost = [...acked].filter((id) => !ids.has(id));
      expect(lost).toEqual([]);
      expect(ids.size).toBe(stored.length);
      expect(sent).toBeGreaterThan(0);
      // Identity is applied in batches after the commit: the batches acknowledged last were the
      // likeliest to be unapplied at the kill, and must be in their profiles after the restart.
      for (const device of ackedDevices.slice(-16)) {
        const headers = { authorization: `Bearer ${ADMIN_KEY}` };
        const found = await fetch(`${again.url}/v1/profiles?anonymousId=${device}`, { headers });
        expect(found.status, device).toBe(200);
        const { id } = (await found.json()) as { id: string };
        const page = (await (await fetch(`${again.url}/v1/profiles/${id}/events?limit=100`, { headers })).json()) as {
          events: unknown[];
        };
        expect(page.events, device).toHaveLength(50);
      }
    } finally {
      again.child.kill('SIGTERM');
      await again.exited;
    }
  });

  it('drains in-flight requests on SIGTERM and exits cleanly', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const db = join(dir.path, 'kimlik.db');
    const proc = await spawnCollector({ KIMLIK_DATABASE: db });
    const acked = new Set<string>();
    let stop = false;
    // Senders keep requests in flight; SIGTERM lands among them once some have been answered.
    const senders = Array.from({ length: 6 }, async (_, s) => {
      for (let k = 0; !stop && k < 10_000; k++) {
        const batch = batchOf(`term-s${s}-r${k}`, 200);
        try {
          const res = await fetch(`${proc.url}/v1/batch`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: auth },
            body: JSON.stringify({ batch }),
          });
          if (res.status === 200) for (const e of batch) acked.add(e.messageId);
          else if (res.status === 503) return;
        } catch {
          return;
        }
      }
    });
    const deadline = Date.now() + 10_000;
    while (acked.size === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    proc.child.kill('SIGTERM');
    const exit = await proc.exited;
    stop = true;
    await Promise.all(senders);
    expect(exit.code).toBe(0);
    expect(acked.size).toBeGreaterThan(0);
    const again = await spawnCollector({ KIMLIK_DATABASE: db });
    try {
      const stored = new Set((await fetchStoredEvents(again.url, ADMIN_KEY)).map((e) => e.messageId));
      // Every event answered 200 before the exit is stored.
      expect([...acked].filter((id) => !stored.has(id))).toEqual([]);
    } finally {
      again.child.kill('SIGTERM');
      await again.exited;
    }
  });

  it('exits on SIGTERM within the drain deadline although a connection never sent a request', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const proc = await spawnCollector({ KIMLIK_DATABASE: join(dir.path, 'kimlik.db'), KIMLIK_DRAIN_TIMEOUT_MS: '500' });
    // As a load balancer's pre-opened connection: connected, silent.
    const { hostname, port } = new URL(proc.url);
    const silent = connect(Number(port), hostname);
    await once(silent, 'connect');
    const closed = once(silent, 'close');
    proc.child.kill('SIGTERM');
    const exit = await proc.exited;
    expect(exit.code).toBe(0);
    await closed;
    // A clean close: the write-ahead log was checkpointed and removed.
    expect(existsSync(join(dir.path, 'kimlik.db-wal'))).toBe(false);
  });
});
