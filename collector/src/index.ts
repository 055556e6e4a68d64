export { type Collector, createCollector } from './app.js';
export { HTTP_ERRORS, type HttpErrorCode } from './http/errors.js';
export {
  type CollectorOptions,
  DEFAULTS,
  ENV_NAMES,
  optionsFromEnv,
  type ResolvedCollectorOptions,
  resolveOptions,
} from './options.js';
export { startCollector } from './server.js';
export type { EventRow, InsertOutcome, Source, Store } from './store/store.js';
