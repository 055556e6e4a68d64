import type { Store } from '../store/store.js';
import type { IdentityConfig } from './identifiers.js';

export const IDENTITY_RULES_SETTING = 'identity_rules';

/** The configured rules that decide which values are identifiers, as comparable text. */
export function identityRules(config: IdentityConfig): string {
  return JSON.stringify({ traits: [...config.traitIdentifiers].sort(), blocked: [...config.blockedValues].sort() });
}

/**
 * Records the rules this collector resolves identity with, and answers the ones the database was
 * used with before when they differ (else null). Why: profiles are a function of the events only
 * under one set of rules. Events already resolved keep the earlier ones, and collectors on one
 * PostgreSQL with different rules would resolve the same person differently, silently.
 */
export async function recordIdentityRules(store: Store, config: IdentityConfig): Promise<string | null> {
  const now = identityRules(config);
  const before = await store.claimSetting(IDENTITY_RULES_SETTING, now);
  if (before === now) return null;
  await store.setSetting(IDENTITY_RULES_SETTING, now);
  return before;
}
