import { afterEach, expect, it } from 'vitest';
import { resolveOptions } from '../../collector/src/options.js';
import { PostgresStore } from '../../collector/src/store/postgres/postgres-store.js';
import type { EventRow } from '../../collector/src/store/store.js';
import { storeRow } from '../helpers/store-row.js';
import { describePostgres, dropTestDatabase, postgresTestUrl } from '../helpers/stores.js';

const config = resolveOptions({}).identityConfig;
const T0 = Date.UTC(2026, 2, 1);
let seq = 0;

function row(event: Record<string, unknown>, tsMs = T0 + seq): EventRow {
  return storeRow(event, `m-${++seq}`, tsMs, config);
}

const urls: string[] = [];
afterEach(async () => {
  for (const u of urls.splice(0)) await dropTestDatabase(u);
});

describePostgres('cluster size limit', () => {
  it('a batch touching many small clusters replays each whole, however many there are', async () => {
    const url = postgresTestUrl();
    urls.push(url);
    const store = await PostgresStore.open({
      url,
      poolMax: 3,
      identity: { enabled: true, caps: { maxIdentifiers: 20, maxMerges: 10 }, maxClusterIdentifiers: 50, config },
    });
    try {
      const N = 100;
      const first: EventRow[] = [];
      for (let n = 0; n < N; n++) {
        first.push(row({ type: 'track', anonymousId: `dev-${n}-a`, event: 'Viewed' }));
        first.push(
          row({
            type: 'identify',
            anonymousId: `dev-${n}-a`,
            userId: `user-${n}`,
            traits: { email: `p${n}@example.com` },
          }),
        );
      }
      await store.insertEvents(first);
      await store.findProfile('userId', 'user-0');
      // One identity batch: every person's second device, each linking to a cluster of three.
      await store.insertEvents(
        Array.from({ length: N }, (_, n) => row({ type: 'identify', anonymousId: `dev-${n}-b`, userId: `user-${n}` })),
      );
      for (let n = 0; n < N; n++) {
        const ids = await Promise.all([
          store.findProfile('userId', `user-${n}`),
          store.findProfile('email', `p${n}@example.com`),
          store.findProfile('anonymousId', `dev-${n}-a`),
          store.findProfile('anonymousId', `dev-${n}-b`),
        ]);
        expect(new Set(ids).size, `person ${n}: ${ids.join(' ')}`).toBe(1);
      }
    } finally {
      await store.close();
    }
  });
});
