import { validateHeaderName, validateHeaderValue } from 'node:http';
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { inputValidator } from '../endpoints/json-schema.ts';
import { ApiError, invalid, parseLimit } from '../errors.ts';
import { jsonText, parseJson } from '../http/json-body.ts';
import { newId } from '../ids.ts';
import type { Db } from '../infra/db/database.ts';
import type { KeyService } from '../keys/key-service.ts';
import { nowIso } from '../time.ts';
import type { TokenService } from '../tokens/token-service.ts';

const HISTORY_KEPT = 100;
const MAX_STORED_BODY = 64 * 1024;
/** Headers the page may not set: credentials are the server's, framing is the server's. */
const REFUSED_HEADERS = new Set([
  'authorization',
  'x-api-key',
  'cookie',
  'host',
  'content-length',
  'transfer-encoding',
  'connection',
]);

interface TestRequestInput {
  key_id: string;
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  path: string;
  headers?: Record<string, string>;
  body?: unknown;
}

const parseInput = inputValidator<TestRequestInput>({
  type: 'object',
  additionalProperties: false,
  required: ['key_id', 'method', 'path'],
  properties: {
    key_id: { type: 'string', minLength: 1, maxLength: 100 },
    method: { enum: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] },
    path: { type: 'string', pattern: '^/api/v1/', maxLength: 2048 },
    headers: {
      type: 'object',
      maxProperties: 50,
      additionalProperties: { type: 'string', maxLength: 8192 },
    },
    body: {},
  },
});

/** Single quotes for the shell, with embedded single quotes closed and escaped. */
export const shellQuote = (value: string) => `'${value.replace(/'/g, `'\\''`)}'`;

/** Headers that carry credentials (X-Webhook-Auth…): sent as typed, never kept in the history. */
const CREDENTIAL_HEADER = /auth|token|secret|cookie|signature|session|csrf|password/i;

/** The headers as the history keeps them: credential values replaced (a header's name is kept). */
export function redacted(headers: Record<string, string> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    const lower = name.toLowerCase();
    out[name] = CREDENTIAL_HEADER.test(lower) && lower !== 'x-webhook-auth-header' ? '[redacted]' : value;
  }
  return out;
}

function curlOf(origin: string, input: TestRequestInput, body: string | undefined): string {
  // curl refuses a URL holding a space ("URL using bad/illegal format"), as in a filter value typed
  // on the test page (`filter[name]=Ada Lovelace`): such characters go percent-encoded, as a
  // browser sends them (the server reads both alike).
  const url = origin + input.path.replace(/[^\x21-\x7e]/gu, (c) => encodeURIComponent(c));
  // curl reads [ ] { } in a URL as a glob (`filter[paid]=true` would fail with "bad range").
  const globoff = /[[\]{}]/.test(url) ? ' --globoff' : '';
  const parts = [`curl${globoff} -X ${input.method} ${shellQuote(url)}`];
  parts.push(`-H "Authorization: Bearer $GATEHOUSE_KEY"`);
  for (const [name, value] of Object.entries(input.headers ?? {})) {
    parts.push(`-H ${shellQuote(`${name}: ${value}`)}`);
  }
  if (body !== undefined) {
    if (!Object.keys(input.headers ?? {}).some((h) => h.toLowerCase() === 'content-type')) {
      parts.push(`-H 'Content-Type: application/json'`);
    }
    parts.push(`-d ${shellQuote(body)}`);
  }
  return parts.join(' \\\n  ');
}

/** `value`, or `text` when JSON.stringify would not give the value's numbers back as they are there. */
function asSent(value: unknown, text: string): unknown {
  const same =
    typeof value === 'object' && value !== null
      ? jsonText(value) === JSON.stringify(value)
      : JSON.stringify(value) === text.trim();
  return same ? value : text;
}

function exactBody(body: unknown): unknown {
  return body === undefined || body === null ? null : asSent(body, jsonText(body));
}

function responseBody(response: LightMyRequestResponse): unknown {
  const text = response.body;
  if (String(response.headers['content-type'] ?? '').includes('json')) {
    try {
      // An integer a double does not hold stays as the text shows it (the page shows text as JSON).
      const value = asSent(parseJson(Buffer.from(text)), text);
      if (value !== text) return value;
    } catch {
      // Fall through to text.
    }
  }
  return text.length > MAX_STORED_BODY ? `${text.slice(0, MAX_STORED_BODY)}…` : text;
}

/**
 * The test page: a request sent through this server's own data API as a test key would send
 * it. The server mints a one-minute token for the key (its secret is hashed and never leaves
 * the server), so the request meets the same authentication, scopes, limits and metering.
 */
export function registerTestRequestRoutes(
  app: FastifyInstance,
  deps: {
    db: Db;
    keys: KeyService;
    tokens: TokenService;
    inject(options: InjectOptions): Promise<LightMyRequestResponse>;
  },
): void {
  const { db } = deps;

  app.post('/admin/v1/test-requests', async (request, reply) => {
    const input = parseInput(request.body);
    const key = await deps.keys.get(input.key_id);
    if (request.principal.role !== 'owner' && key.created_by !== request.principal.userId) {
      throw new ApiError('key_not_found', { message: `API key "${input.key_id}" not found` });
    }
    if (key.environment !== 'test') {
      throw invalid('key_id', 'The test page sends with test keys only; live data is in the console');
    }
    // The path as the server will route it (dot segments resolved) must still be the data API's.
    if (!new URL(input.path, 'http://gatehouse.invalid').pathname.startsWith('/api/v1/')) {
      throw invalid('path', 'Must be a path of the data or App API, under /api/v1/');
    }
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(input.headers ?? {})) {
      if (REFUSED_HEADERS.has(name.toLowerCase())) {
        throw invalid(`headers.${name}`, 'Set by the server (the key is chosen with key_id)');
      }
      // Only what an HTTP client could send: the request is made in-process, past Node's own checks.
      try {
        validateHeaderName(name);
        validateHeaderValue(name, value);
      } catch {
        throw invalid(
          `headers.${name}`,
          'Not a valid HTTP header: a name is a token, a value is one line without control characters or characters beyond U+00FF',
        );
      }
      headers[name.toLowerCase()] = value;
    }
    const hasBody = input.body !== undefined && input.body !== null && input.method !== 'GET';
    const body = hasBody ? (typeof input.body === 'string' ? input.body : jsonText(input.body)) : undefined;
    if (hasBody && !headers['content-type']) headers['content-type'] = 'application/json';

    const started = performance.now();
    let status: number;
    let responseHeaders: Record<string, unknown>;
    let payload: unknown;
    try {
      const authenticated = await deps.keys.verifyById(key.id);
      const { token } = await deps.tokens.mint(authenticated, { expires_in: 60 });
      const response = await deps.inject({
        method: input.method,
        url: input.path,
        headers: { ...headers, authorization: `Bearer ${token}` },
        payload: body,
        remoteAddress: request.ip,
      });
      status = response.statusCode;
      responseHeaders = response.headers;
      payload = responseBody(response);
    } catch (error) {
      // The key itself is refused (revoked, deactivated, expired): show what its caller would get.
      if (!(error instanceof ApiError)) throw error;
      status = error.status;
      responseHeaders = { 'content-type': 'application/json; charset=utf-8' };
      payload = { success: false, error: error.message, code: error.code, details: error.details ?? [] };
    }
    // Whole milliseconds, as stored: the history holds the same objects as the answers.
    const durationMs = Math.round(performance.now() - started);
    const origin = `${request.protocol}://${request.host}`;
    const record = {
      id: newId('testRequest'),
      object: 'test_request' as const,
      key_id: key.id,
      method: input.method,
      path: input.path,
      // A body holding an integer a double does not give back is kept as its text (as sent).
      request: { headers: redacted(input.headers), body: exactBody(input.body) },
      status,
      headers: responseHeaders,
      body: payload,
      duration_ms: durationMs,
      curl: curlOf(origin, { ...input, headers: redacted(input.headers) }, body),
      created_at: nowIso(),
    };
    await db
      .insertInto('test_requests')
      .values({
        id: record.id,
        user_id: request.principal.userId,
        key_id: key.id,
        method: record.method,
        path: record.path,
        request: JSON.stringify(record.request),
        response: JSON.stringify({ headers: record.headers, body: record.body, curl: record.curl }),
        status,
        duration_ms: durationMs,
        created_at: record.created_at,
      })
      .execute();
    // Keep the newest entries per user.
    const old = await db
      .selectFrom('test_requests')
      .select('id')
      .where('user_id', '=', request.principal.userId)
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .offset(HISTORY_KEPT)
      .limit(1000)
      .execute();
    if (old.length > 0) {
      await db
        .deleteFrom('test_requests')
        .where(
          'id',
          'in',
          old.map((row) => row.id),
        )
        .execute();
    }
    return reply.code(201).send({ success: true, data: record });
  });

  app.get<{ Querystring: { limit?: string } }>(
    '/admin/v1/test-requests',
    { config: { query: { limit: `How many, 1 to ${HISTORY_KEPT} (default 20)` } } },
    async (request) => {
      const limit = parseLimit(request.query.limit, HISTORY_KEPT, 20);
      const rows = await db
        .selectFrom('test_requests')
        .selectAll()
        .where('user_id', '=', request.principal.userId)
        .orderBy('created_at', 'desc')
        .orderBy('id', 'desc')
        .limit(limit)
        .execute();
      return {
        success: true,
        data: rows.map((row) => {
          const response = JSON.parse(row.response) as { headers: unknown; body: unknown; curl: string };
          return {
            id: row.id,
            object: 'test_request',
            key_id: row.key_id,
            method: row.method,
            path: row.path,
            request: JSON.parse(row.request) as unknown,
            status: row.status,
            headers: response.headers,
            body: response.body,
            duration_ms: row.duration_ms,
            curl: response.curl,
            created_at: row.created_at,
          };
        }),
      };
    },
  );
}
