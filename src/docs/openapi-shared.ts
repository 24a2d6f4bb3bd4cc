import { AUTH_CHALLENGE, type ErrorApi, errorCodes } from '../errors.ts';

type Json = Record<string, unknown>;

const header = (description: string, schema: Json = { type: 'string' }) => ({ description, schema });

const headerDefs: Record<string, Json> = {
  // On every answer, errors included (PRODUCT.md): the one header a client can count on.
  'Request-Id': {
    ...header('The request id (req_…), also in error bodies, logs and webhook deliveries'),
    required: true,
  },
  'X-RateLimit-Limit': header('Quota of the tightest window', { type: 'integer' }),
  'X-RateLimit-Remaining': header('Requests left in the tightest window', { type: 'integer' }),
  'X-RateLimit-Reset': header('When the tightest window resets (Unix seconds)', { type: 'integer' }),
  'RateLimit-Policy': header('IETF draft: each window, e.g. "minute";q=120;w=60'),
  RateLimit: header('IETF draft: each window\'s remaining requests and reset, e.g. "minute";r=119;t=42'),
};

/** The header every answer carries, as a response's `headers`. */
export function requestIdHeader(): Json {
  return { 'Request-Id': { $ref: '#/components/headers/Request-Id' } };
}

/** Headers every authenticated response carries. */
export function standardHeaders(): Json {
  return Object.fromEntries(
    Object.keys(headerDefs).map((name) => [name, { $ref: `#/components/headers/${name}` }]),
  );
}

/** What each status means, on both APIs unless the management API's own says otherwise. */
const reasons: Record<number, string> = {
  400: 'Invalid JSON, not an object, schema validation failed (details per field), or a bad parameter',
  401: 'Missing, malformed, unknown, expired, revoked or deactivated key',
  403: 'Endpoint inactive, subscription expired, not deployed to live, or the key lacks the scope',
  404: 'Unknown endpoint or record',
  408: 'The request (its headers or body) took longer than the server waits',
  409: 'An idempotent request with this key is still in flight',
  413: "Body over the size limit (on the data API, the endpoint's max_body_bytes)",
  415: 'Content-Type is not application/json, names a charset other than utf-8, or the body has a Content-Encoding',
  417: 'An Expect header other than 100-continue',
  422: 'Idempotency-Key reused with a different body, path or callback',
  431: 'Request headers over 16 KiB',
  429: 'Per-minute/day rate limit or monthly quota exceeded (Retry-After says when to retry)',
  500: 'Server fault (never a stack trace)',
  503: 'A dependency is unavailable; retry after Retry-After',
  507: 'The database disk is full; nothing was written',
};

const managementReasons: Record<number, string> = {
  400: "Invalid JSON, not an object, a bad parameter or field (details name it), an invalid JSON Schema or app definition, or a record the endpoint's schema refuses",
  401: 'No valid management token or session, or a wrong email or password',
  403: 'Your role does not allow this call, a cookie-authenticated call lacks its X-CSRF-Token, or the endpoint has no live version',
  404: 'No such endpoint, app, record, key, subscription, delivery, invite or token',
  409: 'The change conflicts with the current state (a slug taken, a revoked key activated, an app using the endpoint)',
  429: 'Too many failed sign-ins or password attempts (Retry-After says when to retry)',
};

/** Each API's codes by status, from the one table in src/errors.ts. */
const codesByStatus: Record<ErrorApi, Map<number, string[]>> = { data: new Map(), management: new Map() };
for (const [code, error] of Object.entries(errorCodes)) {
  for (const api of error.apis) {
    const codes = codesByStatus[api].get(error.status) ?? [];
    codes.push(code);
    codesByStatus[api].set(error.status, codes);
  }
}

/** The success envelope, `{"success": true, "data": …}` (and `meta` when given), as JSON content. */
export function successContent(data: Json = {}, meta?: Json): Json {
  return {
    'application/json': {
      schema: {
        type: 'object',
        required: meta ? ['success', 'data', 'meta'] : ['success', 'data'],
        properties: { success: { const: true }, data, ...(meta ? { meta } : {}) },
      },
    },
  };
}

/**
 * The error envelope for each status, with the codes that can carry it. Any request can also
 * get 408, 417, 431, 500 and 503, and a 400 for a malformed request (an HTTP/1.1 request without
 * Host, say), which the HTTP server answers before any route runs. (A 405 is an answer to a method the path does not have, so no
 * operation lists it; docs/errors.md does.) `keyed: false` is for answers to no API key, so
 * under no limits (the management API, /health): their errors carry Request-Id, and Retry-After
 * on a 429 (sign-in throttling) or 503, but no limit headers, and their 409s (a slug taken) no
 * Retry-After. `api` picks the codes: each document lists only those its own API can answer.
 */
export function errorResponses(
  statuses: number[],
  { api, keyed = true }: { api: ErrorApi; keyed?: boolean },
): Json {
  const out: Json = {};
  for (const status of new Set([...statuses, 400, 408, 417, 431, 500, 503])) {
    const codes = codesByStatus[api].get(status) ?? [];
    const reason = (api === 'management' ? managementReasons[status] : undefined) ?? reasons[status];
    // A 401 is answered before any key is known, and a 408, 417 or 431 by the HTTP server before
    // any route runs (src/http/error-handler.ts), so they carry no limit headers.
    const headers: Json =
      [401, 408, 417, 431].includes(status) || !keyed ? requestIdHeader() : standardHeaders();
    if ((status === 409 && keyed) || status === 429 || status === 503)
      headers['Retry-After'] = { $ref: '#/components/headers/Retry-After' };
    if (status === 401) headers['WWW-Authenticate'] = { $ref: '#/components/headers/WWW-Authenticate' };
    out[status] = {
      description: `${reason ?? 'Error'}. Codes: ${codes.join(', ')}`,
      headers,
      content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
    };
  }
  return out;
}

/** The error envelope, its `code` one of those `api` can answer with. */
export function errorSchema(api: ErrorApi): Json {
  return {
    type: 'object',
    required: ['success', 'error', 'code', 'details', 'request_id'],
    properties: {
      success: { const: false },
      error: { type: 'string', examples: ['Validation failed'] },
      code: { enum: [...codesByStatus[api].values()].flat() },
      details: {
        type: 'array',
        items: {
          type: 'object',
          required: ['field', 'error'],
          properties: { field: { type: 'string' }, error: { type: 'string' } },
        },
      },
      request_id: { type: 'string', pattern: '^req_' },
    },
  };
}

/** Components of the data API's document; the management document takes a few of them. */
export function sharedComponents(): Json {
  return {
    securitySchemes: {
      bearer: {
        type: 'http',
        scheme: 'bearer',
        description:
          'Authorization: Bearer gk_test_… or gk_live_… (an API key), or a short-lived token minted from one with POST /api/v1/tokens',
      },
      apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
    },
    headers: {
      ...headerDefs,
      'Retry-After': header('Seconds to wait before retrying', { type: 'integer' }),
      'WWW-Authenticate': {
        ...header('On a 401: how to authenticate, `Bearer realm="gatehouse"`', { const: AUTH_CHALLENGE }),
        required: true,
      },
      'Idempotent-Replayed': header('On a replay of an Idempotency-Key: the original answer, again', {
        const: 'true',
      }),
      'Original-Request-Id': header('On a replay of an Idempotency-Key: the original request id'),
    },
    parameters: {
      IdempotencyKey: {
        name: 'Idempotency-Key',
        in: 'header',
        required: false,
        description:
          '1 to 255 printable ASCII characters (a quoted string, `"…"`, is taken without its quotes). Same key + same body (and the same X-Webhook-Callback and X-Webhook-Auth-Header) within 24 h replays the original answer; another body or callback is 422; in flight is 409.',
        // What idempotency/idempotency-key.ts takes: at least one character other than a space.
        schema: { type: 'string', minLength: 1, maxLength: 255, pattern: '^[ -~]*[!-~][ -~]*$' },
      },
      WebhookCallback: {
        name: 'X-Webhook-Callback',
        in: 'header',
        required: false,
        description:
          "http(s) URL the processing result is POSTed to, signed with this key's callback_signing_secret (GET /api/v1/account)",
        schema: { type: 'string', format: 'uri' },
      },
      WebhookAuth: {
        name: 'X-Webhook-Auth',
        in: 'header',
        required: false,
        description: 'Value of the auth header sent with the callback (stored encrypted)',
        schema: { type: 'string' },
      },
      WebhookAuthHeader: {
        name: 'X-Webhook-Auth-Header',
        in: 'header',
        required: false,
        description: 'Name of that header (default Authorization)',
        schema: { type: 'string' },
      },
      Limit: {
        name: 'limit',
        in: 'query',
        required: false,
        schema: { type: 'integer', minimum: 1, maximum: 100, default: 25 },
      },
      Order: {
        name: 'order',
        in: 'query',
        required: false,
        schema: { enum: ['desc', 'asc'], default: 'desc' },
      },
      After: {
        name: 'after',
        in: 'query',
        required: false,
        description: 'The next_cursor of the previous page',
        schema: { type: 'string' },
      },
    },
    schemas: {
      Error: errorSchema('data'),
      Queued: {
        type: 'object',
        required: ['success', 'id', 'message'],
        properties: {
          success: { const: true },
          id: { type: 'string', pattern: '^rec_' },
          message: { const: 'Request queued' },
        },
      },
      PageMeta: {
        type: 'object',
        required: ['next_cursor', 'limit'],
        properties: { next_cursor: { type: ['string', 'null'] }, limit: { type: 'integer' } },
      },
      Event: {
        type: 'object',
        required: ['id', 'type', 'timestamp', 'created_at', 'data'],
        properties: {
          id: { type: 'string', pattern: '^evt_' },
          type: { enum: ['record.created', 'record.updated', 'record.deleted', 'request.failed'] },
          timestamp: {
            type: 'string',
            format: 'date-time',
            description: 'When the event was made (the Standard Webhooks payload field; same as created_at)',
          },
          created_at: { type: 'string', format: 'date-time' },
          data: {
            type: 'object',
            required: ['endpoint', 'environment', 'request_id', 'record_id', 'operation', 'status', 'record'],
            properties: {
              endpoint: { type: 'string' },
              environment: { enum: ['test', 'live'] },
              request_id: { type: 'string' },
              record_id: { type: 'string' },
              operation: { enum: ['create', 'replace', 'delete'] },
              status: { enum: ['processed', 'failed'] },
              record: { type: 'object' },
              failure: { type: 'object' },
            },
          },
        },
      },
    },
  };
}
