// The one error model: a closed set of reason codes, each with its HTTP status and documentation anchor.

export const errorStatus = {
  VALIDATION_ERROR: 400,
  MALFORMED_REQUEST: 400,
  AUTHENTICATION_REQUIRED: 401,
  INSUFFICIENT_PERMISSIONS: 403,
  RESOURCE_NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  NOT_ACCEPTABLE: 406,
  REQUEST_TIMEOUT: 408,
  CONFLICT: 409,
  INVALID_STATE_TRANSITION: 409,
  PRECONDITION_FAILED: 412,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  IDEMPOTENCY_KEY_MISMATCH: 422,
  HEADERS_TOO_LARGE: 431,
  RATE_LIMITED: 429,
  INTERNAL_ERROR: 500,
  SERVICE_UNAVAILABLE: 503,
} as const;

export type ErrorCode = keyof typeof errorStatus;
export const errorCodes = Object.keys(errorStatus) as ErrorCode[];

/** One problem with one field; `field` is a dotted path (`price.amount`) or a query parameter name. */
export interface ErrorDetail {
  field: string;
  message: string;
  code: string;
}

export interface ApiErrorOptions {
  details?: ErrorDetail[];
  /** Response headers the error needs, such as `Allow` on a 405 or `Retry-After` on a 429. */
  headers?: Record<string, string>;
  cause?: unknown;
}

export class ApiError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details: ErrorDetail[];
  readonly headers: Record<string, string>;

  constructor(code: ErrorCode, message: string, options: ApiErrorOptions = {}) {
    super(message, { cause: options.cause });
    this.name = 'ApiError';
    this.code = code;
    this.status = errorStatus[code];
    this.details = options.details ?? [];
    this.headers = options.headers ?? {};
  }
}

export const isApiError = (value: unknown): value is ApiError => value instanceof ApiError;

export const notFound = (kind: string, id: string): ApiError =>
  new ApiError('RESOURCE_NOT_FOUND', `No ${kind} has the id '${id}'.`);

export const invalid = (field: string, code: string, message: string): ApiError =>
  new ApiError('VALIDATION_ERROR', `The request is not valid: ${message}`, { details: [{ field, code, message }] });

/** The same error, about one item of a batch: its fields are prefixed with the item's place (`items.3.email`). */
export function atItem(index: number, error: unknown): unknown {
  if (!isApiError(error)) return error;
  return new ApiError(error.code, `Item ${index}: ${error.message}`, {
    details: error.details.map((detail) => ({ ...detail, field: `items.${index}.${detail.field}` })),
    headers: error.headers,
  });
}

export const preconditionFailed = (kind: string): ApiError =>
  new ApiError(
    'PRECONDITION_FAILED',
    `The ${kind} has changed since you read it (If-Match did not match). Read it again, then retry.`,
  );
