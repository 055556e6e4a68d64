import { spawn } from 'node:child_process';
import { readdirSync, statSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Kimlik } from '../../sdk-node/src/index.js';
import { startTestCollector, type TestCollector, tempDir } from '../helpers/collector.js';

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
    const args = [PRODUCER, collector.url, collector.writeKey, dir.path];
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
    dir.remove();
  }, 60_000);
});
