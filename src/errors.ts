/**
 * The one error hierarchy. Every error a client can see has a code listed here;
 * the HTTP error handler turns an ApiError into the one JSON envelope, and
 * docs/errors.md is checked against this table by a test.
 */

/**
 * The two HTTP APIs: `data` is what API keys call (records, App routes, account, tokens, /health),
 * `management` is /admin/v1 (the dashboard and the CLI). Each code names the ones that can answer
 * with it, so each OpenAPI document lists only its own codes (src/docs/openapi-shared.ts).
 */
export type ErrorApi = 'data' | 'management';
const DATA: readonly ErrorApi[] = ['data'];
const MANAGEMENT: readonly ErrorApi[] = ['management'];
const BOTH: readonly ErrorApi[] = ['data', 'management'];

export const errorCodes = {
  invalid_json: {
    status: 400,
    apis: BOTH,
    message: 'Invalid JSON',
    doc: "The body is not valid JSON: malformed, not UTF-8, a `__proto__` key or a `constructor` object holding a `prototype` key (refused to guard against prototype pollution), nested more than 128 levels deep, a string holding U+0000 or an unpaired surrogate (`\\ud800`), which PostgreSQL cannot store, or a number past a double's range (`1e400`), which would be stored as null.",
  },
  invalid_body: {
    status: 400,
    apis: BOTH,
    message: 'Body must be a JSON object',
    doc: 'The body is valid JSON but not an object.',
  },
  validation_failed: {
    status: 400,
    apis: BOTH,
    message: 'Validation failed',
    doc: 'The body does not match the endpoint\'s JSON Schema; `details` has one entry per field. A field of several types (`["integer","null"]`, `anyOf`, `oneOf`) whose value has none of them is told all of them (`Must be of type integer or null`); one whose value has one of them is told only what that type requires; where several alternatives take the value (`anyOf` of `required: [email]` and `required: [phone]`), the details of each are listed, then one that says fixing one of them is enough. A branch that is a `$ref` (`anyOf: [{$ref: "#/$defs/money"}, {type: "null"}]`) counts as the types of the schema it refers to (`Must be of type object or null`), and one that is a `const` or an `enum` as the types of its values (`anyOf: [{const: "none"}, {type: "integer"}]` given `true`: `Must be of type string or integer`); a value that several branches of a `oneOf` take is told which (`Must match exactly one of 2 alternatives: it matches alternatives 1 and 2`).',
  },
  invalid_request: {
    status: 400,
    apis: BOTH,
    message: 'Invalid request',
    doc: 'A parameter, header or field of the request is malformed; `details` names it.',
  },
  invalid_schema: {
    status: 400,
    apis: MANAGEMENT,
    message: 'Invalid JSON Schema',
    doc: 'An endpoint definition carries a schema that is not a valid JSON Schema (draft 2020-12), or one of more than 256 KiB of JSON (compiling it would hold up every request).',
  },
  invalid_app: {
    status: 400,
    apis: MANAGEMENT,
    message: 'Invalid app definition',
    doc: 'An app definition was refused (unknown endpoint, bad path template, expression that does not parse, duplicate route or step…); `details` names the route and step. Nothing was stored.',
  },
  invalid_cursor: {
    status: 400,
    apis: BOTH,
    message: 'Invalid cursor',
    doc: 'The `after` cursor was not issued by this server for this list.',
  },
  missing_api_key: {
    status: 401,
    apis: DATA,
    message: 'Missing API key',
    doc: 'No `Authorization: Bearer` or `X-API-Key` header was sent, or only an empty one (an empty header, or `Authorization: Bearer` with nothing after it, is no credential).',
  },
  invalid_api_key: {
    status: 401,
    apis: DATA,
    message: 'Invalid API key',
    doc: 'The key is malformed, fails its checksum, or is unknown; or the request carries two credentials (both `Authorization` and `X-API-Key` filled in, or either twice); or a short-lived token (`POST /api/v1/tokens`) is not one this installation signed, or was minted with a key secret that has since been rolled (message `Invalid token…`).',
  },
  api_key_expired: {
    status: 401,
    apis: DATA,
    message: 'API key expired',
    doc: "The key's `expires_at` has passed; or, with the message `Token expired`, a short-lived token has: mint a new one with the key; or `POST /api/v1/tokens` was called in the key's last second (or a rolled-away secret's), when a token would be refused as it is given.",
  },
  api_key_revoked: {
    status: 401,
    apis: DATA,
    message: 'API key revoked',
    doc: 'The key was revoked; revocation is permanent.',
  },
  api_key_inactive: {
    status: 401,
    apis: DATA,
    message: 'API key deactivated',
    doc: 'The owner deactivated the key; it can be activated again.',
  },
  unauthorized: {
    status: 401,
    apis: MANAGEMENT,
    message: 'Unauthorized',
    doc: 'The management API needs a valid management token (`Authorization: Bearer gm_…`, sent once) or session; `/metrics`, when `GATEHOUSE_METRICS_TOKEN` is set, needs that token.',
  },
  invalid_credentials: {
    status: 401,
    apis: MANAGEMENT,
    message: 'Invalid email or password',
    doc: 'Sign-in failed.',
  },
  forbidden: {
    status: 403,
    apis: MANAGEMENT,
    message: 'Forbidden',
    doc: "The signed-in user's role does not allow this call (collaborators: see docs/dashboard.md).",
  },
  csrf_failed: {
    status: 403,
    apis: MANAGEMENT,
    message: 'Missing or invalid CSRF token',
    doc: 'A state-changing call made with the session cookie lacks the `X-CSRF-Token` header of its session.',
  },
  insufficient_scope: {
    status: 403,
    apis: DATA,
    message: 'API key lacks the required scope',
    doc: 'The key has no scope that allows this operation on this endpoint.',
  },
  endpoint_inactive: {
    status: 403,
    apis: BOTH,
    message: 'Endpoint inactive',
    doc: 'The owner deactivated the endpoint: the data API refuses reads and writes there, and `POST /admin/v1/endpoints/{slug}/import` refuses imports (a dry run too); nothing is written. Activate it again to write.',
  },
  subscription_expired: {
    status: 403,
    apis: BOTH,
    message: 'Subscription expired',
    doc: "The endpoint's subscription has ended: its `expires_at` has passed. The data API refuses calls there, and `POST /admin/v1/endpoints/{slug}/import` refuses imports (a dry run too); nothing is written. The owner extends it by setting a later `expires_at` (or `null`); a new `expires_at` in the past is refused (400 `invalid_request`, `Must be in the future`), so the endpoint cannot be ended at once by mistake (deactivating it is how it stops now).",
  },
  endpoint_not_deployed: {
    status: 403,
    apis: BOTH,
    message: 'Endpoint not deployed to live',
    doc: 'A live key called an endpoint that has never been deployed.',
  },
  app_not_deployed: {
    status: 403,
    apis: DATA,
    message: 'App not deployed to live',
    doc: 'A live key (or a public call to `live`) reached an app that has never been deployed.',
  },
  not_found: {
    status: 404,
    apis: BOTH,
    message: 'Not found',
    doc: 'No such route; or no delivery, webhook subscription, collaborator or management token (of yours) has this id.',
  },
  endpoint_not_found: {
    status: 404,
    apis: BOTH,
    message: 'Endpoint not found',
    doc: 'No endpoint has this slug.',
  },
  app_not_found: { status: 404, apis: BOTH, message: 'App not found', doc: 'No app has this slug.' },
  record_not_found: {
    status: 404,
    apis: BOTH,
    message: 'Record not found',
    doc: "No record has this id in this endpoint and the key's environment.",
  },
  invite_not_found: {
    status: 404,
    apis: MANAGEMENT,
    message: 'Invite not found',
    doc: 'The invite link is unknown, already used, withdrawn or expired.',
  },
  key_not_found: {
    status: 404,
    apis: MANAGEMENT,
    message: 'API key not found',
    doc: 'No API key has this id.',
  },
  method_not_allowed: {
    status: 405,
    apis: BOTH,
    message: 'Method not allowed',
    doc: 'The path exists but not with this method.',
  },
  conflict: {
    status: 409,
    apis: MANAGEMENT,
    message: 'Conflict',
    doc: 'The change conflicts with the current state, e.g. a slug already taken, activating a revoked key, or rolling an expired one (give it a later expires_at first).',
  },
  already_initialized: {
    status: 409,
    apis: MANAGEMENT,
    message: 'Already initialized',
    doc: '`gatehouse init` was run before (or at the same moment, against the same database): an owner exists. There is one owner per installation.',
  },
  idempotency_key_in_flight: {
    status: 409,
    apis: DATA,
    message: 'A request with this Idempotency-Key is still in flight',
    doc: 'The first request with this `Idempotency-Key` has not finished; retry after `Retry-After` seconds to get its response.',
  },
  request_timeout: {
    status: 408,
    apis: BOTH,
    message: 'Request timeout',
    doc: "The request's headers and body did not arrive within the server's request timeout (`GATEHOUSE_REQUEST_TIMEOUT_MS`, 30 s); the connection is closed.",
  },
  expectation_failed: {
    status: 417,
    apis: BOTH,
    message: 'Expectation failed',
    doc: 'The request has an `Expect` header other than `100-continue`, the only expectation there is; nothing was done.',
  },
  payload_too_large: {
    status: 413,
    apis: BOTH,
    message: 'Payload too large',
    doc: "The body exceeds the endpoint's `max_body_bytes`.",
  },
  unsupported_media_type: {
    status: 415,
    apis: BOTH,
    message: 'Content-Type must be application/json',
    doc: "A write was sent without `Content-Type: application/json`, with a charset other than UTF-8 (`charset=latin1`: the message names it), or with a `Content-Encoding` (gzip, br, …) or a `Transfer-Encoding` other than chunked (`gzip, chunked`): bodies are sent as UTF-8, uncompressed. A DELETE's body is never read, so its Content-Type does not matter.",
  },
  headers_too_large: {
    status: 431,
    apis: BOTH,
    message: 'Request headers too large',
    doc: 'The request line and headers together exceed 16 KiB; the connection is closed.',
  },
  idempotency_key_reused: {
    status: 422,
    apis: DATA,
    message: 'Idempotency-Key reused with a different request',
    doc: 'This `Idempotency-Key` was used in the last 24 hours with another body, path or per-request callback (`X-Webhook-Callback` URL or `X-Webhook-Auth-Header`); use a new key for a new request.',
  },
  rate_limited: {
    status: 429,
    apis: DATA,
    message: 'Rate limit exceeded',
    doc: "The key's per-minute or per-day limit is used up; `details` names the window, `Retry-After` says when it resets.",
  },
  quota_exceeded: {
    status: 429,
    apis: DATA,
    message: 'Monthly quota exceeded',
    doc: "The key's per-month quota is used up until the 1st of next month, 00:00 UTC (`Retry-After`).",
  },
  too_many_failed_attempts: {
    status: 429,
    apis: BOTH,
    message: 'Too many invalid API keys from this address',
    doc: 'This client address presented too many invalid keys; it is refused before any key is looked up until `Retry-After`.',
  },
  storage_full: {
    status: 507,
    apis: BOTH,
    message: 'Insufficient storage',
    doc: 'The database disk is full; nothing was written. Retry once space is freed (@gatehouse/client does not retry it on its own).',
  },
  app_step_failed: {
    status: 500,
    apis: DATA,
    message: 'App step failed',
    doc: "A step of an app route's pipeline failed at run time (an expression raised an error or produced a value of the wrong kind); the message and `details` name the step. Earlier writes of the pipeline stay committed.",
  },
  app_budget_exceeded: {
    status: 500,
    apis: DATA,
    message: 'App step exceeded its budget',
    doc: 'An expression of an app route ran longer than its time budget (250 ms each, 2 s per request) or produced more than 5 MiB; the message and `details` name the step.',
  },
  internal_error: {
    status: 500,
    apis: BOTH,
    message: 'Internal server error',
    doc: 'A fault on the server; details are in its log, never in the response.',
  },
  service_unavailable: {
    status: 503,
    apis: BOTH,
    message: 'Service unavailable',
    doc: 'A dependency (the database) is unavailable; retry after `Retry-After` seconds.',
  },
  limits_unavailable: {
    status: 503,
    apis: DATA,
    message: 'Rate limiting unavailable',
    doc: 'The shared limit counters are unreachable (Redis; under `gatehouse start --workers N` without Redis, the primary process that keeps them) and the installation is set to fail closed (`GATEHOUSE_LIMITS_ON_REDIS_FAILURE=closed`).',
  },
} as const satisfies Record<
  string,
  { status: number; apis: readonly ErrorApi[]; message: string; doc: string }
>;

export type ErrorCode = keyof typeof errorCodes;

export interface ErrorDetail {
  field: string;
  error: string;
}

/**
 * The challenge every 401 carries (RFC 9110 §15.5.2: a 401 must name how to authenticate). Every
 * API takes `Authorization: Bearer` (an API key, a token minted from one, a management token);
 * a Bearer challenge makes no browser ask for a password, as Basic would.
 */
export const AUTH_CHALLENGE = 'Bearer realm="gatehouse"';

export class ApiError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details: ErrorDetail[] | undefined;
  readonly headers: Record<string, string> | undefined;

  constructor(
    code: ErrorCode,
    options: { message?: string; details?: ErrorDetail[]; headers?: Record<string, string> } = {},
  ) {
    super(options.message ?? errorCodes[code].message);
    this.name = 'ApiError';
    this.code = code;
    this.status = errorCodes[code].status;
    this.details = options.details;
    this.headers =
      this.status === 401 ? { 'WWW-Authenticate': AUTH_CHALLENGE, ...options.headers } : options.headers;
  }
}

/** Shorthand for a 400 that names the offending field. */
export function invalid(field: string, error: string): ApiError {
  return new ApiError('invalid_request', { details: [{ field, error }] });
}

/**
 * A PATCH naming no field (`{}`) would change nothing and answer as if it had: refused, saying
 * which fields the route changes. `fields`: its body schema's properties, in their order.
 */
export function refuseEmptyPatch(patch: object, fields: readonly string[]): void {
  if (Object.keys(patch).length === 0) {
    throw new ApiError('invalid_request', {
      message: `Give at least one field to change: ${orList(fields)}`,
    });
  }
}

/**
 * A nested object naming none of its fields (`"limits": {}`) sets nothing, on a create as on a
 * change, where it answered 200 having changed nothing: refused, naming the fields it takes.
 * `instead`: how to say what such an empty object might have been meant to say, if anything.
 */
export function refuseEmptyNested(
  value: object | null | undefined,
  field: string,
  fields: readonly string[],
  instead = '',
): void {
  if (value && Object.keys(value).length === 0) {
    const needs = `at least one of ${orList(fields)}`;
    throw new ApiError('invalid_request', {
      message: `${field} needs ${needs}${instead}`,
      details: [{ field, error: `Must have ${needs}` }],
    });
  }
}

/** A page size from a query string: digits only, from 1 to `max`; `fallback` when absent. */
export function parseLimit(value: unknown, max: number, fallback: number): number {
  if (value === undefined) return fallback;
  const text = String(value);
  const limit = Number(text);
  if (!/^\d+$/.test(text) || limit < 1 || limit > max) {
    throw invalid('limit', `Must be an integer from 1 to ${max}`);
  }
  return limit;
}

/** Choices as a message names them: `a`, `a or b`, `a, b or c`. */
export function orList(items: readonly string[]): string {
  return items.length < 2 ? items.join('') : `${items.slice(0, -1).join(', ')} or ${items.at(-1)}`;
}
