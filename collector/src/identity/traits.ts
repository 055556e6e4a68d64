/**
 * Profile traits as a pure fold over timestamped trait writes, so the result depends on the set of
 * identify calls, not their arrival order: per key, the latest (timestamp, messageId) wins; a
 * `null` is a timestamped removal (an older value arriving later cannot resurrect the key); keys
 * sent under `$set_once` only take effect while the key is unset, so the earliest wins.
 */
export interface TraitWrite {
  ts: number;
  messageId: string;
  key: string;
  /** JSON text of the value; null removes the key. */
  value: string | null;
  setOnce: boolean;
}

export interface TraitChange {
  trait: string;
  old: unknown;
  new: unknown;
  timestamp: string;
  messageId: string;
}

/** Splits an identify's traits into writes; `$set_once: {...}` marks set-once keys. */
export function traitWrites(traits: Record<string, unknown>, ts: number, messageId: string): TraitWrite[] {
  const out: TraitWrite[] = [];
  for (const [key, value] of Object.entries(traits)) {
    if (key === '$set_once' && typeof value === 'object' && value !== null && !Array.isArray(value)) {
      for (const [k, v] of Object.entries(value)) {
        if (v !== null && v !== undefined) out.push({ ts, messageId, key: k, value: JSON.stringify(v), setOnce: true });
      }
      continue;
    }
    if (value === undefined) continue;
    out.push({ ts, messageId, key, value: value === null ? null : JSON.stringify(value), setOnce: false });
  }
  return out;
}

/** Applies the writes in (timestamp, messageId) order; `onChange` sees each change the history lists. */
function fold(
  writes: readonly TraitWrite[],
  onChange?: (write: TraitWrite, old: string | undefined) => void,
): Map<string, string> {
  const sorted = [...writes].sort((a, b) =>
    a.ts !== b.ts
      ? a.ts - b.ts
      : a.messageId !== b.messageId
        ? a.messageId < b.messageId
          ? -1
          : 1
        : a.key < b.key
          ? -1
          : a.key > b.key
            ? 1
            : 0,
  );
  const current = new Map<string, string>();
  for (const w of sorted) {
    const old = current.get(w.key);
    if (w.setOnce && old !== undefined) continue;
    if (w.value === null) {
      if (old === undefined) continue;
      current.delete(w.key);
    } else {
      if (old === w.value) continue;
      current.set(w.key, w.value);
    }
    onChange?.(w, old);
  }
  return current;
}

function traitsOf(current: Map<string, string>): Record<string, unknown> {
  const traits: Record<string, unknown> = {};
  for (const [k, v] of [...current].sort((a, b) => (a[0] < b[0] ? -1 : 1))) traits[k] = JSON.parse(v);
  return traits;
}

export function foldTraits(writes: readonly TraitWrite[]): { traits: Record<string, unknown>; history: TraitChange[] } {
  const history: TraitChange[] = [];
  const current = fold(writes, (w, old) =>
    history.push({
      trait: w.key,
      old: old === undefined ? null : JSON.parse(old),
      new: w.value === null ? null : JSON.parse(w.value),
      timestamp: new Date(w.ts).toISOString(),
      messageId: w.messageId,
    }),
  );
  return { traits: traitsOf(current), history };
}

/**
 * The current traits alone, as `foldTraits` has them: the profile view's fold, without parsing
 * every change of a long history for entries it does not show.
 */
export function currentTraits(writes: readonly TraitWrite[]): Record<string, unknown> {
  return traitsOf(fold(writes));
}
