import { expect, it } from 'vitest';
import {
  ADMIN_KEY,
  type CollectorProcess,
  fetchStoredEvents,
  spawnCollector,
  WRITE_KEY,
} from '../helpers/collector.js';
import { partition, population, reference, storedOwners } from '../helpers/population.js';
import { describePostgres } from '../helpers/stores.js';
import { batches, lanes, sendBatch } from './load.js';
import { startPrivateCluster } from './private-cluster.js';

const T0 = Date.parse('2026-04-01T00:00:00.000Z');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, ok: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

describePostgres('PostgreSQL restarted under load', () => {
  it('collectors answer 503 while it is down, recover by themselves, and lose nothing acknowledged', async () => {
    const cluster = await startPrivateCluster();
    const procs: CollectorProcess[] = [];
    try {
      const database = `${cluster.url}?schema=kimlik`;
      procs.push(
        ...(await Promise.all(
          [0, 1].map(() => spawnCollector({ KIMLIK_DATABASE: database, KIMLIK_POSTGRES_POOL_MAX: '4' })),
        )),
      );
      const events = population(5, 300, 6000, T0);
      const acked = new Set<string>();
      const statuses = new Map<number, number>();
      const sending = lanes(
        batches(events, 30).map((batch, i) => ({ batch, proc: procs[i % 2] as CollectorProcess })),
        6,
        async ({ batch, proc }) => {
          // A client that retries 503 and 429 (as the SDKs do), for up to ~30 s.
          for (let attempt = 0; attempt < 600; attempt++) {
            const r = await sendBatch(proc.url, WRITE_KEY, batch);
            statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
            if (r.status === 200) {
              for (const e of batch) acked.add(e.messageId as string);
              return;
            }
            if (r.status !== 503 && r.status !== 429) return;
            await sleep(50);
          }
        },
      );
      await until('2 000 acknowledged events', () => acked.size >= 2000, 60_000);
      // Like a crash: no shutdown checkpoint, the next start replays the WAL.
      cluster.stop('immediate');
      await until('503 answers', () => (statuses.get(503) ?? 0) >= 5, 20_000);
      const ready = await fetch(`${(procs[0] as CollectorProcess).url}/readyz`);
      expect(ready.status).toBe(503);
      cluster.start();
      await sending;

      expect([...statuses.keys()].filter((s) => s !== 200 && s !== 503 && s !== 429)).toEqual([]);
      expect(statuses.get(503)).toBeGreaterThan(0);
      expect((await fetch(`${(procs[0] as CollectorProcess).url}/readyz`)).status).toBe(200);
      const stored = (await fetchStoredEvents((procs[1] as CollectorProcess).url, ADMIN_KEY)).map(
        (e) => e.messageId as string,
      );
      expect(new Set(stored).size).toBe(stored.length);
      const have = new Set(stored);
      expect([...acked].filter((id) => !have.has(id))).toEqual([]);
      // Every batch was retried until acknowledged.
      expect(acked.size).toBe(events.length);
      // Identity batches that failed while the database was down were kept and applied after:
      // the profiles are those of all the events.
      const owners = await storedOwners((procs[0] as CollectorProcess).url, ADMIN_KEY, reference(events).keys());
      expect(partition(owners)).toEqual(partition(reference(events)));
    } finally {
      for (const p of procs) {
        p.child.kill('SIGTERM');
        await p.exited;
      }
      cluster.destroy();
    }
  }, 180_000);
});
