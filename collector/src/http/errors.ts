import { KimlikError } from '@kimlik/core';

/**
 * Every error the HTTP API answers with, by stable code. The README's error table and the OpenAPI
 * document list the same codes (a test keeps them in step). Codes are never reused.
 */
export const HTTP_ERRORS = {
  KIMLIK_AUTH_MISSING: {
    status: 401,
    message: 'No write key: send it as the HTTP Basic username or as "writeKey" in the body',
  },
  KIMLIK_AUTH_INVALID: { status: 401, message: 'The write key is not known to this collector' },
  KIMLIK_ADMIN_AUTH_REQUIRED: { status: 401, message: 'This API needs "Authorization: Bearer <admin key>"' },
  KIMLIK_ORIGIN_FORBIDDEN: { status: 403, message: 'This source does not accept events from this browser origin' },
  KIMLIK_NOT_FOUND: { status: 404, message: 'No such resource' },
  KIMLIK_METHOD_NOT_ALLOWED: { status: 405, message: 'This path does not answer to this method; see the Allow header' },
  KIMLIK_BODY_INVALID_JSON: { status: 400, message: 'The body is not valid JSON' },
  KIMLIK_BODY_INVALID_UTF8: { status: 400, message: 'The body is not valid UTF-8' },
  KIMLIK_BODY_INVALID_GZIP: { status: 400, message: 'The body is marked gzip but does not decompress' },
  KIMLIK_BODY_NOT_BATCH: { status: 400, message: 'The body must be a JSON object with a "batch" array of events' },
  KIMLIK_BODY_NOT_OBJECT: { status: 400, message: 'The body must be a JSON object' },
  KIMLIK_BATCH_TOO_MANY_EVENTS: { status: 400, message: 'The batch holds more events than allowed' },
  KIMLIK_BATCH_ALL_REJECTED: { status: 400, message: 'No event in the request was valid; see "rejected"' },
  KIMLIK_BODY_TOO_LARGE: { status: 413, message: 'The body is larger than allowed' },
  KIMLIK_UNSUPPORTED_MEDIA_TYPE: {
    status: 415,
    message:
      'Send JSON as application/json (text/plain, application/x-www-form-urlencoded and application/octet-stream carrying JSON are read too)',
  },
  KIMLIK_UNSUPPORTED_ENCODING: { status: 415, message: 'Content-Encoding must be gzip or identity' },
  KIMLIK_PROFILE_NOT_FOUND: { status: 404, message: 'No profile with this id or identifier' },
  KIMLIK_IDENTIFIER_NOT_IN_PROFILE: { status: 404, message: 'The identifier does not belong to this profile' },
  KIMLIK_IDENTIFIER_ALONE: {
    status: 409,
    message: "The identifier is the profile's only one: there is nothing to detach it from",
  },
  KIMLIK_REQUEST_INVALID: { status: 400, message: 'The request body is invalid' },
  KIMLIK_IDENTITY_DISABLED: { status: 409, message: 'Identity resolution is disabled (KIMLIK_IDENTITY=false)' },
  KIMLIK_QUERY_INVALID: { status: 400, message: 'A query parameter is invalid' },
  KIMLIK_URL_INVALID: {
    status: 400,
    message: 'The URL path is not valid (bad percent-encoding, or a segment too long)',
  },
  KIMLIK_REQUEST_MALFORMED: {
    status: 400,
    message: 'The request is not valid HTTP/1.1 (for example a Content-Length that is not a number)',
  },
  KIMLIK_REQUEST_TIMEOUT: { status: 408, message: 'The request was not received in time' },
  KIMLIK_HEADERS_TOO_LARGE: { status: 431, message: 'The request line and headers are larger than allowed (16 KB)' },
  KIMLIK_OVERLOADED: { status: 429, message: 'The collector is busy; retry after the Retry-After delay' },
  KIMLIK_STORE_UNAVAILABLE: { status: 503, message: 'The database cannot commit right now; retry later' },
  KIMLIK_INTERNAL: { status: 500, message: 'Unexpected error' },
} as const satisfies Record<string, { status: number; message: string }>;

export type HttpErrorCode = keyof typeof HTTP_ERRORS;

/** An error the API answers as `{error: {code, message, ...detail}}` with the code's status. */
export class HttpError extends KimlikError {
  readonly status: number;
  readonly detail: Record<string, unknown>;
  constructor(code: HttpErrorCode, message?: string, detail: Record<string, unknown> = {}) {
    super(code, message ?? HTTP_ERRORS[code].message);
    this.status = HTTP_ERRORS[code].status;
    this.detail = detail;
  }
}

/** The answer body of `error`: `{error: {code, message, ...detail}}`, plus the ingest shape when it names rejected events. */
export function errorBody(error: HttpError): Record<string, unknown> {
  const { rejected, ...rest } = error.detail;
  const body: Record<string, unknown> = { error: { code: error.code, message: error.message, ...rest } };
  if (Array.isArray(rejected)) {
    // Same detail as a partial success, so clients read one shape.
    Object.assign(body, { success: false, accepted: 0, rejected });
    (body.error as Record<string, unknown>).rejected = rejected;
  }
  return body;
}
