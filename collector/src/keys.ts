import { randomBytes } from 'node:crypto';
import type { ResolvedCollectorOptions } from './options.js';
import type { Store } from './store/store.js';

export const DEFAULT_SOURCE_ID = 1;
const ADMIN_KEY_SETTING = 'admin_key';
/** The write key generated for the default source, claimed before the source row is written. */
const GENERATED_WRITE_KEY_SETTING = 'generated_write_key';

export const newKey = (prefix: string) => `${prefix}_${randomBytes(18).toString('base64url')}`;

export interface Keys {
  writeKey: string;
  adminKey: string;
  /** Which keys were generated on this start (to print them once). */
  generated: { writeKey: boolean; adminKey: boolean };
}

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
  return { writeKey, adminKey, generated: { writeKey: generatedWrite, adminKey: generatedAdmin } };
}
