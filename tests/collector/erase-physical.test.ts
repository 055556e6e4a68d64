import { existsSync, readFileSync } from 'node:fs';
import { afterEach, expect, it } from 'vitest';
import { startTestCollector, type TestCollector } from '../helpers/collector.js';

let c: TestCollector | undefined;
afterEach(async () => {
  await c?.close();
  c = undefined;
});

/** Every byte SQLite holds for the collector: the database file and its write-ahead log. */
const fileBytes = (path: string) =>
  Buffer.concat([path, `${path}-wal`].filter((p) => existsSync(p)).map((p) => readFileSync(p)));

it("an erased person's data is gone from the SQLite files, not only from the tables", async () => {
  c = await startTestCollector();
  const marker = 'Ada-Lovelace-zq9x';
  const batch = [
    { type: 'identify', userId: 'u-erase', anonymousId: 'd-erase', traits: { name: marker, email: `${marker}@x.io` } },
    ...Array.from({ length: 50 }, (_, i) => ({
      type: 'track',
      userId: 'u-erase',
      event: 'Viewed',
      properties: { note: `${marker}-${i}`, pad: 'x'.repeat(500) },
    })),
  ];
  const res = await fetch(`${c.url}/v1/batch`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Basic ${btoa(`${c.writeKey}:`)}` },
    body: JSON.stringify({ batch }),
  });
  expect(res.status).toBe(200);
  const admin = { authorization: `Bearer ${c.adminKey}` };
  const { id } = (await (await fetch(`${c.url}/v1/profiles?userId=u-erase`, { headers: admin })).json()) as {
    id: string;
  };
  expect(fileBytes(c.dbPath as string).includes(marker)).toBe(true);
  const erased = await fetch(`${c.url}/v1/profiles/${id}`, { method: 'DELETE', headers: admin });
  expect(erased.status).toBe(200);
  expect(fileBytes(c.dbPath as string).includes(marker)).toBe(false);
});
