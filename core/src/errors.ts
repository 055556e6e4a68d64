/**
 * One error family with stable codes. Codes are part of the public contract and never reused.
 */
export const ERROR_CODES = {
  INVALID_OPTION: 'KIMLIK_INVALID_OPTION',
  TRANSPORT: 'KIMLIK_TRANSPORT',
  VALIDATION: 'KIMLIK_VALIDATION',
} as const;

export class KimlikError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** An option passed at construction is wrong; the message says what to write instead. */
export class InvalidOptionError extends KimlikError {
  readonly option: string;
  constructor(option: string, message: string) {
    super(ERROR_CODES.INVALID_OPTION, `Invalid option "${option}": ${message}`);
    this.option = option;
  }
}

/** Delivery to the collector failed. */
export class TransportError extends KimlikError {
  readonly status: number | undefined;
  readonly retryable: boolean;
  readonly retryAfterMs: number | undefined;
  constructor(
    message: string,
    details: { status?: number; retryable: boolean; retryAfterMs?: number; cause?: unknown },
  ) {
    super(ERROR_CODES.TRANSPORT, message, { cause: details.cause });
    this.status = details.status;
    this.retryable = details.retryable;
    this.retryAfterMs = details.retryAfterMs;
  }
}

/** An event or body does not match the protocol; `path` names the field. */
export class ValidationError extends KimlikError {
  readonly path: string;
  readonly reasonCode: string;
  constructor(reasonCode: string, path: string, message: string) {
    super(ERROR_CODES.VALIDATION, message);
    this.path = path;
    this.reasonCode = reasonCode;
  }
}
