import { afterEach, expect, it } from 'vitest';
import { type CollectorProcess, keptDatabase, spawnCollector } from '../helpers/collector.js';
import { describeStores } from '../helpers/stores.js';

let running: CollectorProcess | undefined;
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  running?.child.kill('SIGKILL');
  running = undefined;
  for (const c of cleanups.splice(0)) await c();
});

async function runOnce(database: string, env: Record<string, string>): Promise<string> {
  running = await spawnCollector({ KIMLIK_DATABASE: database, ...env });
  const { child, exited, output } = running;
  child.kill('SIGTERM');
  await exited;
  running = undefined;
  return output();
}

const WARNING = 'identity rules (KIMLIK_IDENTITY_TRAITS, KIMLIK_BLOCKED_VALUES) differ';

describeStores('identity rules', (store) => {
  it('a collector whose identity rules differ from those the database was used with says so at start', async () => {
    const { database, remove } = keptDatabase(store);
    cleanups.push(remove);
    expect(await runOnce(database, { KIMLIK_IDENTITY_TRAITS: 'email' })).not.toContain(WARNING);
    expect(await runOnce(database, { KIMLIK_IDENTITY_TRAITS: 'email' })).not.toContain(WARNING);
    const changed = await runOnce(database, { KIMLIK_IDENTITY_TRAITS: 'email,phone' });
    const line = changed.split('\n').find((l) => l.includes(WARNING)) as string;
    expect(JSON.parse(line)).toMatchObject({
      level: 40,
      before: { traits: ['email'] },
      now: { traits: ['email', 'phone'] },
    });
    // Said once: the database now records the new rules.
    expect(await runOnce(database, { KIMLIK_IDENTITY_TRAITS: 'phone,email' })).not.toContain(WARNING);
  });
});
