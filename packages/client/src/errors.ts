/** Errors mirror the API's envelope: status, code, details, request id. */

export interface ErrorDetail {
  field: string;
  error: string;
}

export class GatehouseError extends Error {
  readonly status: number;
  readonly code: string;
  readonly details: ErrorDetail[];
  readonly requestId: string | undefined;
  /**
   * The answer's `Retry-After` in seconds (a 429, a 503, a 409 `idempotency_key_in_flight`), once
   * the client's own retries are spent or it was longer than `maxRetryWaitMs`; else undefined.
   */
  retryAfter: number | undefined = undefined;

  constructor(
    status: number,
    code: string,
    message: string,
    details: ErrorDetail[] = [],
    requestId?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
    this.status = status;
    this.code = code;
    this.details = details;
    this.requestId = requestId;
  }
}

/** 400: bad JSON, not an object, schema validation (see `details`), or a bad parameter. */
export class BadRequestError extends GatehouseError {}
/** 401: missing, invalid, expired, revoked or deactivated key. */
export class AuthenticationError extends GatehouseError {}
/** 403: endpoint inactive, subscription expired, not deployed to live, or missing scope. */
export class PermissionError extends GatehouseError {}
/** 404: unknown endpoint or record. */
export class NotFoundError extends GatehouseError {}
/** 409: an idempotent request with this key is still in flight. */
export class ConflictError extends GatehouseError {}
/** 413: body over the endpoint's limit. */
export class PayloadTooLargeError extends GatehouseError {}
/** 415: not JSON. */
export class UnsupportedMediaTypeError extends GatehouseError {}
/** 422: Idempotency-Key reused with another body. */
export class IdempotencyKeyReusedError extends GatehouseError {}
/** 429: rate limit or monthly quota; `retryAfter` in seconds. */
export class RateLimitError extends GatehouseError {}
/** 5xx; a 507 (`storage_full`: the server's disk is full) is thrown without retries. */
export class ServerError extends GatehouseError {}
/** No HTTP answer: network failure or timeout (status 0). */
export class ConnectionError extends GatehouseError {}

const byStatus: Record<number, typeof GatehouseError> = {
  400: BadRequestError,
  401: AuthenticationError,
  403: PermissionError,
  404: NotFoundError,
  409: ConflictError,
  413: PayloadTooLargeError,
  415: UnsupportedMediaTypeError,
  422: IdempotencyKeyReusedError,
  429: RateLimitError,
};

export function errorFromResponse(
  status: number,
  body: unknown,
  retryAfter: number | undefined,
): GatehouseError {
  // Only what has the envelope's shape: JSON of another shape (a proxy's `{"error": {…}}`) would
  // otherwise make the message "[object Object]", or a code or details of another type.
  const envelope = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
  const text = (value: unknown) => (typeof value === 'string' ? value : undefined);
  const details = Array.isArray(envelope.details)
    ? envelope.details.filter(
        (d): d is ErrorDetail =>
          typeof d === 'object' && d !== null && typeof d.field === 'string' && typeof d.error === 'string',
      )
    : [];
  const Kind = byStatus[status] ?? (status >= 500 ? ServerError : GatehouseError);
  const error = new Kind(
    status,
    text(envelope.code) ?? `http_${status}`,
    text(envelope.error) ?? `HTTP ${status}`,
    details,
    text(envelope.request_id),
  );
  error.retryAfter = retryAfter;
  return error;
}
