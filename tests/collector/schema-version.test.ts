import { expect, it } from 'vitest';
import { keptDatabase, spawnCollector } from '../helpers/collector.js';
import { connectRaw } from '../helpers/raw-db.js';
import { describeStores } from '../helpers/stores.js';

describeStores('schema versions across upgrades', (store) => {
  it('a start logs the migrations it applied, and a database a newer collector migrated is refused (an older one ran on it silently)', async () => {
    const kept = keptDatabase(store);
    try {
      const first = await spawnCollector({ KIMLIK_DATABASE: kept.database });
      expect(first.output()).toContain('database schema migrated');
      first.child.kill('SIGTERM');
      await first.exited;
      // Nothing to apply the second time: no line.
      const second = await spawnCollector({ KIMLIK_DATABASE: kept.database });
      expect(second.output()).not.toContain('database schema migrated');
      second.child.kill('SIGTERM');
      await second.exited;
      const raw = await connectRaw(store, kept.database);
      await raw.exec(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'a later Kimlik', 0)`);
      await raw.close();
      await expect(spawnCollector({ KIMLIK_DATABASE: kept.database })).rejects.toThrow(
        /schema version 999, newer than this collector's \d+/,
      );
    } finally {
      await kept.remove();
    }
  });
});
