import { afterEach, expect, it } from 'vitest';
import { type Collector, createCollector, resolveOptions } from '../../collector/src/index.js';
import { describePostgres, dropTestDatabase, postgresTestUrl } from '../helpers/stores.js';

const open: Collector[] = [];
const databases: string[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.close()));
  for (const d of databases.splice(0)) await dropTestDatabase(d);
});

async function listen(c: Collector): Promise<string> {
  await c.app.listen({ port: 0, host: '127.0.0.1' });
  return `http://127.0.0.1:${(c.app.server.address() as { port: number }).port}`;
}

describePostgres('N collectors on one PostgreSQL share their keys', () => {
  it('collectors started together without configured keys all use the same generated write and admin keys', async () => {
    const database = postgresTestUrl();
    databases.push(database);
    const options = resolveOptions({ port: 0, host: '127.0.0.1', logLevel: 'silent', database });
    const collectors = await Promise.all([1, 2, 3, 4].map(() => createCollector(options)));
    open.push(...collectors);
    const writeKeys = new Set(collectors.map((c) => c.keys.writeKey));
    const adminKeys = new Set(collectors.map((c) => c.keys.adminKey));
    expect(writeKeys.size).toBe(1);
    expect(adminKeys.size).toBe(1);
    const [writeKey] = writeKeys;
    const [adminKey] = adminKeys;
    // Behind a load balancer any collector gets any request: each accepts both keys.
    for (const c of collectors) {
      const url = await listen(c);
      const track = await fetch(`${url}/v1/track`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          authorization: `Basic ${Buffer.from(`${writeKey}:`).toString('base64')}`,
        },
        body: JSON.stringify({ type: 'track', event: 'E', anonymousId: 'a1' }),
      });
      expect(track.status).toBe(200);
      const events = await fetch(`${url}/v1/events?limit=1`, { headers: { authorization: `Bearer ${adminKey}` } });
      expect(events.status).toBe(200);
    }
  });

  it('a collector started later without keys reads the ones the first generated', async () => {
    const database = postgresTestUrl();
    databases.push(database);
    const options = resolveOptions({ port: 0, host: '127.0.0.1', logLevel: 'silent', database });
    const first = await createCollector(options);
    open.push(first);
    const second = await createCollector(options);
    open.push(second);
    expect(second.keys).toMatchObject({
      writeKey: first.keys.writeKey,
      adminKey: first.keys.adminKey,
      generated: { writeKey: false, adminKey: false },
    });
  });

  it('a source created on one collector is accepted by another at once', async () => {
    const database = postgresTestUrl();
    databases.push(database);
    const options = resolveOptions({ port: 0, host: '127.0.0.1', logLevel: 'silent', database });
    const [a, b] = [await createCollector(options), await createCollector(options)];
    open.push(a, b);
    const [urlA, urlB] = [await listen(a), await listen(b)];
    const adminA = { authorization: `Bearer ${a.keys.adminKey}`, 'content-type': 'application/json' };
    const created = (await (
      await fetch(`${urlA}/v1/sources`, { method: 'POST', headers: adminA, body: JSON.stringify({ name: 'app' }) })
    ).json()) as { id: number; writeKey: string };
    const send = (url: string, key: string) =>
      fetch(`${url}/v1/track`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Basic ${btoa(`${key}:`)}` },
        body: JSON.stringify({ event: 'E', anonymousId: 'a1' }),
      }).then((r) => r.status);
    await new Promise((r) => setTimeout(r, 150)); // past B's own start-up read of the sources
    expect(await send(urlB, created.writeKey)).toBe(200);
    // Right after B re-read the sources (for that key, or for a wrong one): a source created now
    // is still accepted at once. B's re-reads are 100 ms apart at most; it waited 401 out.
    const another = (await (
      await fetch(`${urlA}/v1/sources`, { method: 'POST', headers: adminA, body: JSON.stringify({ name: 'app2' }) })
    ).json()) as { writeKey: string };
    expect(await send(urlB, 'wk_not_a_key')).toBe(401);
    expect(await send(urlB, another.writeKey)).toBe(200);
  });
});
