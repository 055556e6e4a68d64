/**
 * Whether the engine may be given the Node SDK's ports: receipts per event (`outcomeBook`) and a
 * storage that pages (`QueueStorage.overflow`). The browser's script-tag build replaces this
 * module with `false` (sdk-web/rollup.builds.mjs), and the minifier then drops the engine's code
 * for them: a class's unused paths are not tree-shaken, so without this the bundle carries them.
 */
export const SERVER_PORTS: boolean = true;
