import { KimlikError } from '../errors.js';

/** Codes of delivery failures; stable and never reused, like `ERROR_CODES`. */
export const DELIVERY_ERROR_CODES = {
  /** The collector refused the event (4xx or a per-event rejection); retrying cannot help. */
  REJECTED: 'KIMLIK_DELIVERY_REJECTED',
  /** The bounded queue was full and this event was dropped by the queue-full policy. */
  QUEUE_FULL: 'KIMLIK_DELIVERY_QUEUE_FULL',
  /** Retries were exhausted (`maxRetries`). */
  RETRIES_EXHAUSTED: 'KIMLIK_DELIVERY_RETRIES_EXHAUSTED',
  /**
   * The client stopped before the event was acknowledged (kept in persistent storage if any), or
   * the Node SDK's exit flush timed out (delivery goes on if the process does).
   */
  STOPPED: 'KIMLIK_DELIVERY_STOPPED',
  /** The storage port failed; the event stays in memory. */
  STORAGE: 'KIMLIK_DELIVERY_STORAGE',
  /** The event was refused before queueing (invalid or too large). */
  INVALID_EVENT: 'KIMLIK_DELIVERY_INVALID_EVENT',
} as const;

export type DeliveryErrorCode = (typeof DELIVERY_ERROR_CODES)[keyof typeof DELIVERY_ERROR_CODES];

/** Events that will not be delivered (or, for STORAGE, not persisted); `messageIds` names them. */
export class DeliveryError extends KimlikError {
  readonly messageIds: readonly string[];
  /** The collector's rejection code (`KIMLIK_EVENT_…`) or HTTP status when it gave one. */
  readonly reason: string | undefined;
  constructor(
    code: DeliveryErrorCode,
    message: string,
    details: { messageIds: readonly string[]; reason?: string; cause?: unknown },
  ) {
    super(code, message, { cause: details.cause });
    this.messageIds = details.messageIds;
    this.reason = details.reason;
  }
}
