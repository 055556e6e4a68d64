import { spawn } from 'node:child_process';
import { readdirSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Kimlik, KimlikError } from '../../sdk-node/src/index.js';
import { startTestCollector, type TestCollector, tempDir } from '../helpers/collector.js';
import { startFaultServer } from '../helpers/fault-server.js';

const PRODUCER = fileURLToPath(new URL('./fixtures/producer.mjs', import.meta.url));

describe('durable spool', () => {
  let collector: TestCollector;
  beforeAll(async () => {
    collector = await startTestCollector();
  });
  afterAll(async () => {
    await collector?.close();
  });

  it('a truncated segment tail: the intact events are sent and a warning names the file', async () => {
    const dir = tempDir();
    const offline = new Kimlik({
      writeKey: collector.writeKey,
      endpoint: 'http://127.0.0.1:9',
      flushIntervalMs: 60_000,
      spool: { dir: dir.path },
      onWarn: () => undefined,
      onError: () => undefined,
    });
    for (let i = 0; i < 100; i++) offline.track({ userId: 'u-trunc', event: 'Spooled', properties: { i } });
    await offline.shutdown({ timeoutMs: 0 });
    const segments = readdirSync(dir.path).filter((n) => n.endsWith('.kspool'));
    expect(segments).toHaveLength(1);
    const file = join(dir.path, segments[0] as string);
    // A crash in the middle of writing the last record.
    truncateSync(file, statSync(file).size - 7);

    const warnings: string[] = [];
    const client = new Kimlik({
      writeKey: collector.writeKey,
      endpoint: collector.url,
      spool: { dir: dir.path },
      onWarn: (m) => warnings.push(m),
    });
    await client.flush();
    await client.shutdown();
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(file);
    const stored = (await collector.storedEvents()).filter((e) => e.userId === 'u-trunc');
    expect(stored.map((e) => (e.properties as { i: number }).i).sort((a, b) => a - b)).toEqual(
      Array.from({ length: 99 }, (_, i) => i),
    );
    expect(readdirSync(dir.path).filter((n) => n.endsWith('.kspool'))).toEqual([]);
    dir.remove();
  });

  it('SIGKILL mid-stream, then a restart on the same spool: every tracked event stored exactly once', async () => {
    const dir = tempDir();
    // The collector answers only the first batches, then 503: at the kill, events are tracked
    // but undelivered however fast the machine (on a fast one everything was delivered before
    // the kill, and the restart had nothing to send).
    const fault = await startFaultServer(collector.url);
    fault.script = ({ index }) => (index < 5 ? { kind: 'proxy' } : { kind: 'status', status: 503 });
    const args = [PRODUCER, fault.url, collector.writeKey, dir.path];
    // The producer tracks until killed, so the kill always lands mid-stream.
    const child = spawn(process.execPath, [...args, 'stream', '10000000'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let reported = 0;
    const killed = new Promise<void>((resolve) => {
      child.stdout.on('data', (d: Buffer) => {
        const m = /tracked (\d+)\s*$/.exec(d.toString());
        if (m) reported = Number(m[1]);
        if (reported >= 6000 && child.exitCode === null && !child.killed) child.kill('SIGKILL');
      });
      child.once('exit', () => resolve());
    });
    await killed;
    expect(child.signalCode).toBe('SIGKILL');
    const before = (await collector.storedEvents()).filter((e) => e.userId === 'u-kill').length;
    fault.script = () => ({ kind: 'proxy' });

    const restart = spawn(process.execPath, [...args, 'resume', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
    const code = await new Promise<number | null>((resolve) => restart.once('exit', (c) => resolve(c)));
    expect(code).toBe(0);
    const stored = (await collector.storedEvents()).filter((e) => e.userId === 'u-kill');
    const seqs = stored.map((e) => (e.properties as { seq: number }).seq).sort((a, b) => a - b);
    expect(new Set(seqs).size).toBe(seqs.length);
    expect(seqs.length).toBeGreaterThanOrEqual(reported);
    // The restart sent what the killed process had tracked but not delivered.
    expect(seqs.length).toBeGreaterThan(before);
    // Contiguous from 0: nothing tracked before the kill is missing.
    expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i));
    await fault.close();
    dir.remove();
  }, 60_000);

  it('an outage far beyond the memory bound: events spill to disk, are paged back, and all are stored once', async () => {
    const dir = tempDir();
    const fault = await startFaultServer(collector.url);
    await fault.down();
    const errors: string[] = [];
    const client = new Kimlik({
      writeKey: collector.writeKey,
      endpoint: fault.url,
      maxQueueEvents: 50,
      retryBaseMs: 20,
      retryMaxMs: 200,
      spool: { dir: dir.path, fsync: false },
      onWarn: () => undefined,
      onError: (e) => errors.push(e.message),
    });
    const receipts = Array.from({ length: 3000 }, (_, i) =>
      client.track({ userId: 'u-spill', event: 'Spilled', properties: { i } }),
    );
    const stats = client.stats();
    expect(stats).toMatchObject({ dropped: 0, spooled: 3000 });
    expect(stats.queued + stats.inFlight).toBe(3000);
    const flushed = client.flush();
    await fault.up();
    await expect(flushed).resolves.toEqual({ pending: 0, timedOut: false });
    expect(errors).toEqual([]);
    const last = await receipts[2999];
    expect(last?.delivered).toBe(true);
    const stored = (await collector.storedEvents()).filter((e) => e.userId === 'u-spill');
    const seen = stored.map((e) => (e.properties as { i: number }).i).sort((a, b) => a - b);
    expect(seen).toEqual(Array.from({ length: 3000 }, (_, i) => i));
    expect(fault.deliveredCounts().size).toBe(3000);
    expect([...fault.deliveredCounts().values()].every((n) => n === 1)).toBe(true);
    await client.shutdown();
    await fault.close();
    dir.remove();
  }, 60_000);

  it('past spool.maxBytes new events are dropped and reported; everything accepted is stored once', async () => {
    const dir = tempDir();
    const fault = await startFaultServer(collector.url);
    await fault.down();
    const errors: string[] = [];
    const warnings: string[] = [];
    const client = new Kimlik({
      writeKey: collector.writeKey,
      endpoint: fault.url,
      maxQueueEvents: 10,
      retryBaseMs: 20,
      retryMaxMs: 200,
      spool: { dir: dir.path, fsync: false, segmentBytes: 4096, maxBytes: 8192 },
      onWarn: (m) => warnings.push(m),
      onError: (e) => errors.push(`${e.code} ${e.message}`),
    });
    const receipts = Array.from({ length: 300 }, (_, i) =>
      client.track({ userId: 'u-full', event: 'Capped', properties: { i } }),
    );
    const { dropped } = client.stats();
    expect(dropped).toBeGreaterThan(0);
    // Told once per burst: the first drop at once, the others counted as the flush settles.
    expect(errors).toEqual([expect.stringMatching(/^KIMLIK_DELIVERY_QUEUE_FULL queue full: newest event dropped/)]);
    expect(warnings.filter((w) => /is full/.test(w))).toHaveLength(1);
    const flushed = client.flush();
    await fault.up();
    await expect(flushed).resolves.toEqual({ pending: 0, timedOut: false });
    expect(errors.slice(1)).toEqual([
      expect.stringMatching(new RegExp(`^KIMLIK_DELIVERY_QUEUE_FULL queue full: dropped ${dropped - 1} more events`)),
    ]);
    const results = await Promise.all(receipts);
    const delivered = results.filter((r) => r.delivered).map((r) => r.messageId);
    expect(delivered).toHaveLength(300 - dropped);
    const stored = (await collector.storedEvents()).filter((e) => e.userId === 'u-full');
    expect(stored.map((e) => e.messageId).sort()).toEqual([...delivered].sort());
    await client.shutdown();
    await fault.close();
    dir.remove();
  }, 60_000);

  it("after a restart with a backlog, each new event's promise reports that event's own outcome", async () => {
    const dir = tempDir();
    const offline = new Kimlik({
      writeKey: collector.writeKey,
      endpoint: 'http://127.0.0.1:9',
      spool: { dir: dir.path, fsync: false },
      onWarn: () => undefined,
      onError: () => undefined,
    });
    for (let i = 0; i < 30; i++) offline.track({ userId: 'u-backlog', event: 'Before Restart', properties: { i } });
    await offline.shutdown({ timeoutMs: 0 });

    const client = new Kimlik({
      writeKey: collector.writeKey,
      endpoint: collector.url,
      maxQueueEvents: 10,
      spool: { dir: dir.path, fsync: false },
      onError: () => undefined,
    });
    // Tracked while the backlog is still on disk: these wait behind it.
    const receipts = Array.from({ length: 5 }, (_, i) =>
      client.track({
        userId: 'u-backlog',
        event: 'After Restart',
        properties: { i },
        // The collector refuses this one event (not an ISO date); only its promise may say so.
        ...(i === 2 ? { timestamp: 'not-a-date' } : {}),
      }),
    );
    await client.flush();
    const results = await Promise.all(receipts);
    expect(results.map((r) => r.delivered)).toEqual([true, true, false, true, true]);
    expect(results[2]?.messageId).toBe(receipts[2]?.messageId);
    expect(results[2]?.error?.code).toBe('KIMLIK_DELIVERY_REJECTED');
    await client.shutdown();
    const stored = (await collector.storedEvents()).filter((e) => e.userId === 'u-backlog');
    expect(stored).toHaveLength(34);
    dir.remove();
  }, 60_000);

  it('events waiting on disk go out without waiting for flushAt or the flush interval', async () => {
    const dir = tempDir();
    const client = new Kimlik({
      writeKey: collector.writeKey,
      endpoint: collector.url,
      maxQueueEvents: 10,
      flushAt: 1000,
      flushIntervalMs: 600_000,
      spool: { dir: dir.path, fsync: false },
    });
    const receipts = Array.from({ length: 100 }, (_, i) =>
      client.track({ userId: 'u-eager', event: 'Eager', properties: { i } }),
    );
    // No flush(): with the interval at 10 minutes, only the backlog on disk can get these sent.
    const last = await receipts[99];
    expect(last?.delivered).toBe(true);
    expect(client.stats()).toMatchObject({ delivered: 100, queued: 0, spooled: 0 });
    await client.shutdown();
    dir.remove();
  }, 30_000);

  it('a restart with more events spooled than memory holds pages them in and stores each once', async () => {
    const dir = tempDir();
    const run = (endpoint: string, mode: string, count: number) =>
      new Promise<string>((resolve, reject) => {
        const child = spawn(
          process.execPath,
          [PRODUCER, endpoint, collector.writeKey, dir.path, mode, String(count), '100'],
          { stdio: ['ignore', 'pipe', 'ignore'] },
        );
        let out = '';
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString();
        });
        child.once('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`producer exited ${code}`))));
      });
    // Port 9 (discard) refuses connections: the first process keeps everything on disk.
    const offline = await run('http://127.0.0.1:9', 'offline', 2500);
    expect(offline).toContain('offline {"timedOut":true,"spooled":2500,"dropped":0}');
    const resumed = await run(collector.url, 'resume', 0);
    expect(resumed).toContain('resumed {"timedOut":false,"spooled":0,"dropped":0}');
    const stored = (await collector.storedEvents()).filter((e) => e.userId === 'u-offline');
    const seen = stored.map((e) => (e.properties as { i: number }).i).sort((a, b) => a - b);
    expect(seen).toEqual(Array.from({ length: 2500 }, (_, i) => i));
    expect(readdirSync(dir.path).filter((n) => n.endsWith('.kspool'))).toEqual([]);
    dir.remove();
  }, 60_000);
});

describe('a spool directory that cannot be used', () => {
  const construct = (dir: string) => () =>
    new Kimlik({ writeKey: 'wk_test_write_key', endpoint: 'http://127.0.0.1:9', spool: { dir } });

  it('under a file (ENOTDIR), or a file itself: a KimlikError naming the directory and the cause', () => {
    const tmp = tempDir();
    const file = join(tmp.path, 'a-file');
    writeFileSync(file, 'x');
    for (const [dir, cause] of [
      [join(file, 'spool'), /a part of the path is a file, not a directory \(ENOTDIR\)/],
      [file, /the path is a file, not a directory \((EEXIST|ENOTDIR)\)|a part of the path is a file/],
    ] as const) {
      let thrown: unknown;
      try {
        construct(dir)();
      } catch (err) {
        thrown = err;
      }
      expect(thrown).toBeInstanceOf(KimlikError);
      expect(thrown).toMatchObject({ code: 'KIMLIK_SPOOL_UNUSABLE', cause: expect.any(Error) });
      expect((thrown as Error).message).toContain(`spool directory ${dir} cannot be used: `);
      expect((thrown as Error).message).toMatch(cause);
    }
    tmp.remove();
  });
});
