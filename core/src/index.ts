export type * from './admin-api.js';
export * from './backoff.js';
export * from './delivery/index.js';
export * from './errors.js';
export * from './limits.js';
export * from './option-checks.js';
export * from './protocol.js';
export * from './uuid.js';
export * from './validate.js';
