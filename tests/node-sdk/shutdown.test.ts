import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Kimlik } from '../../sdk-node/src/index.js';
import { tempDir } from '../helpers/collector.js';

/** A port with nothing listening (connection refused) and one that accepts but never answers. */
let refusedUrl: string;
let silent: Server;
let silentUrl: string;
beforeAll(async () => {
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  refusedUrl = `http://127.0.0.1:${(probe.address() as { port: number }).port}`;
  await new Promise<void>((r) => probe.close(() => r()));
  // Reads (so it sees the client hang up) but never answers.
  silent = createServer((socket) => socket.resume());
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  silentUrl = `http://127.0.0.1:${(silent.address() as { port: number }).port}`;
});
afterAll(async () => {
  await new Promise<void>((r) => silent.close(() => r()));
});

describe('shutdown({ timeoutMs: 2000 }) with the collector unreachable', () => {
  it('returns within ~2 s and reports the events kept in the spool', async () => {
    const dir = tempDir();
    const client = new Kimlik({
      writeKey: 'wk_test_write_key',
      endpoint: refusedUrl,
      flushIntervalMs: 60_000,
      spool: { dir: dir.path },
      onWarn: () => undefined,
      onError: () => undefined,
    });
    for (let i = 0; i < 500; i++) client.track({ userId: 'u', event: 'Order Completed', properties: { i } });
    const started = Date.now();
    const result = await client.shutdown({ timeoutMs: 2000 });
    const took = Date.now() - started;
    expect(took).toBeGreaterThanOrEqual(1900);
    expect(took).toBeLessThan(2600);
    expect(result).toEqual({ timedOut: true, spooled: 500, dropped: 0 });
    const reopened = new Kimlik({
      writeKey: 'wk_test_write_key',
      endpoint: refusedUrl,
      spool: { dir: dir.path },
      onWarn: () => undefined,
      onError: () => undefined,
    });
    expect(reopened.stats()).toMatchObject({ spooled: 500 });
    await reopened.shutdown({ timeoutMs: 100 });
    dir.remove();
  });

  it('returns within ~2 s when the collector accepts but never answers, and counts drops without a spool', async () => {
    const client = new Kimlik({
      writeKey: 'wk_test_write_key',
      endpoint: silentUrl,
      onWarn: () => undefined,
      onError: () => undefined,
    });
    for (let i = 0; i < 300; i++) client.track({ userId: 'u', event: 'Order Completed', properties: { i } });
    const started = Date.now();
    const result = await client.shutdown({ timeoutMs: 2000 });
    expect(Date.now() - started).toBeLessThan(2600);
    expect(result).toEqual({ timedOut: true, spooled: 0, dropped: 300 });
    await expect(client.track({ userId: 'u', event: 'late' })).resolves.toMatchObject({ delivered: false });
  });
});
