import { expect, it } from 'vitest';
import { spawnCollector, tempDir } from '../helpers/collector.js';

it('a host it cannot listen on, or a database file it cannot open, stops the start naming the setting', async () => {
  const dir = tempDir();
  try {
    await expect(spawnCollector({ HOST: 'bogus.invalid', KIMLIK_DATABASE: `${dir.path}/k.db` })).rejects.toThrow(
      /cannot listen on bogus\.invalid:0 \(HOST, PORT\): .*ENOTFOUND/,
    );
    await expect(spawnCollector({ KIMLIK_DATABASE: '/proc/kimlik.db' })).rejects.toThrow(
      /cannot open the SQLite database \/proc\/kimlik\.db \(KIMLIK_DATABASE\): unable to open database file/,
    );
  } finally {
    dir.remove();
  }
});
