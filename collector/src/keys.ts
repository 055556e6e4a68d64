import { randomBytes } from 'node:crypto';
import type { ResolvedCollectorOptions } from './options.js';
import type { Store } from './store/store.js';

export const DEFAULT_SOURCE_ID = 1;
const ADMIN_KEY_SETTING = 'admin_key';
/** The write key generated for the default source, claimed before the source row is written. */
const GENERATED_WRITE_KEY_SETTING = 'generated_write_key';
/**
 * Generated keys not yet printed: '1' from the start that generated them until a start prints them.
 * A first start can fail after the keys are stored (its port is taken); the next start that
 * listens prints them instead, or the user would never learn them.
 */
const UNSHOWN_SETTING = { writeKey: 'write_key_unshown', adminKey: 'admin_key_unshown' } as const;

export const newKey = (prefix: string) => `${prefix}_${randomBytes(18).toString('base64url')}`;

export interface Keys {
  writeKey: string;
  adminKey: string;
  /** Which keys were generated on this start. */
  generated: { writeKey: boolean; adminKey: boolean };
}

type KeyName = keyof typeof UNSHOWN_SETTING;
const KEY_NAMES = Object.keys(UNSHOWN_SETTING) as KeyName[];

/**
 * Keys given by configuration win and are stored; missing ones are read from the database, or
 * generated and stored on first start. Collectors starting together on one database (PostgreSQL)
 * each propose a key and all use the one stored first (`claimSetting`), so any of them accepts it.
 */
export async function ensureKeys(store: Store, options: ResolvedCollectorOptions): Promise<Keys> {
  const sources = await store.listSources();
  const existing = sources.find((s) => s.id === DEFAULT_SOURCE_ID);
  let writeKey = options.writeKey ?? existing?.writeKey;
  let generatedWrite = false;
  if (writeKey === undefined) {
    const proposed = newKey('wk');
    writeKey = await store.claimSetting(GENERATED_WRITE_KEY_SETTING, proposed);
    generatedWrite = writeKey === proposed;
  }
  if (!existing || existing.writeKey !== writeKey) {
    await store.upsertSource({
      id: DEFAULT_SOURCE_ID,
      name: existing?.name ?? 'default',
      writeKey,
      allowedOrigins: existing?.allowedOrigins ?? [],
    });
  }
  let adminKey = options.adminKey;
  let generatedAdmin = false;
  if (adminKey === undefined) {
    const proposed = newKey('ak');
    adminKey = await store.claimSetting(ADMIN_KEY_SETTING, proposed);
    generatedAdmin = adminKey === proposed;
  } else {
    await store.setSetting(ADMIN_KEY_SETTING, adminKey);
  }
  const generated = { writeKey: generatedWrite, adminKey: generatedAdmin };
  for (const name of KEY_NAMES) if (generated[name]) await store.setSetting(UNSHOWN_SETTING[name], '1');
  return { writeKey, adminKey, generated };
}

/**
 * The generated keys no start has printed yet (see `UNSHOWN_SETTING`). A key now given by
 * configuration is the user's own: it is not printed.
 */
export async function unshownKeys(store: Store, options: ResolvedCollectorOptions): Promise<Record<KeyName, boolean>> {
  const unshown = { writeKey: false, adminKey: false };
  for (const name of KEY_NAMES) {
    unshown[name] = options[name] === undefined && (await store.getSetting(UNSHOWN_SETTING[name])) === '1';
  }
  return unshown;
}

/** The generated keys were printed: later starts print nothing. */
export async function markKeysShown(store: Store): Promise<void> {
  for (const name of KEY_NAMES) await store.setSetting(UNSHOWN_SETTING[name], '0');
}
