/**
 * Whether the engine may be given the ports only the Node SDK passes: receipts per event
 * (`outcomeBook`), a storage that pages (`QueueStorage.overflow`), `packedEventBuffer`, its own
 * scheduler (unref'd timers, kept alive while a flush is awaited), `random` and `onWarn`. The
 * browser's script-tag build replaces this module with `false` (sdk-web/rollup.builds.mjs), and the
 * minifier then drops the engine's code for them: a class's unused paths are not tree-shaken, so
 * without this the bundle carries them.
 */
export const SERVER_PORTS: boolean = true;
