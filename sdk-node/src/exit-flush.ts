/**
 * One `beforeExit` listener for every client (a listener per client passed Node's limit of 10
 * with a warning, and held every client ever made: a process creating one per invocation grew
 * without bound).
 *
 * Clients are held weakly, through a key whose lifetime decides theirs: their delivery engine.
 * An engine with work (queued events, a request, a retry) is held by its own timers and sockets,
 * and keeps its client's exit hook here (a WeakMap value lives as long as its key); an idle engine
 * nobody references is collected with its client, and nothing is lost, as it had nothing to send.
 */
const hooks = new WeakMap<object, { ref: WeakRef<object>; onBeforeExit: (() => void) | undefined }>();
const keys = new Set<WeakRef<object>>();
const collected = new FinalizationRegistry<{ ref: WeakRef<object>; release: () => void }>(({ ref, release }) => {
  keys.delete(ref);
  release();
});
let listening = false;

function flushEveryClient(): void {
  for (const ref of keys) {
    const key = ref.deref();
    if (key) hooks.get(key)?.onBeforeExit?.();
  }
}

/**
 * Calls `onBeforeExit` (if any) on the process's `beforeExit` while `key` lives, and `release`
 * once `key` was collected, until `unregisterExitFlush(key)`. `release` must not reference the
 * key or its client, or they could never be collected.
 */
export function registerExitFlush(key: object, onBeforeExit: (() => void) | undefined, release: () => void): void {
  const ref = new WeakRef(key);
  hooks.set(key, { ref, onBeforeExit });
  keys.add(ref);
  collected.register(key, { ref, release }, key);
  if (onBeforeExit && !listening) {
    process.on('beforeExit', flushEveryClient);
    listening = true;
  }
}

export function unregisterExitFlush(key: object): void {
  const entry = hooks.get(key);
  if (!entry) return;
  hooks.delete(key);
  keys.delete(entry.ref);
  collected.unregister(key);
}
