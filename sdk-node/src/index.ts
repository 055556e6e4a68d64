export {
  DELIVERY_ERROR_CODES,
  DeliveryError,
  type DeliveryReceipt,
  type DeliveryResult,
  type DeliveryStats,
  type FlushResult,
  InvalidOptionError,
  KimlikError,
  type QueueFullPolicy,
  TransportError,
} from '@kimlik/core';
export { type DeliveryPromise, Kimlik, type ShutdownResult } from './kimlik.js';
export type * from './messages.js';
export {
  DEFAULTS,
  type KimlikOptions,
  type ResolvedKimlikOptions,
  resolveOptions,
  type SpoolOptions,
} from './options.js';
