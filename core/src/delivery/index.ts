export * from './delivery-engine.js';
export * from './engine-types.js';
export * from './errors.js';
export * from './event-queue.js';
export * from './memory-storage.js';
export * from './options.js';
export * from './ports.js';
