import { type IncomingMessage, type ServerResponse, STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { RouteEntry } from '../docs/openapi-admin.ts';
import { ApiError, type ErrorCode, type ErrorDetail, errorCodes } from '../errors.ts';
import { newId } from '../ids.ts';
import type { OutageLog, WarningLog } from '../infra/db/outage-log.ts';
import { tooLarge } from './json-body.ts';
import { repeatedContentType } from './single-header.ts';

/** The one error envelope, as JSON text. */
export function errorBody(error: ApiError, requestId: string): string {
  return JSON.stringify({
    success: false,
    error: error.message,
    code: error.code,
    details: error.details ?? [],
    request_id: requestId,
  });
}

/** Every error response, from any route or hook, goes through here (or errorBody). */
export function sendError(reply: FastifyReply, request: FastifyRequest, error: ApiError): FastifyReply {
  if (error.headers) reply.headers(error.headers);
  return reply.code(error.status).type('application/json; charset=utf-8').send(errorBody(error, request.id));
}

const fastifyCodes: Record<string, ErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'payload_too_large',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'invalid_json',
  FST_ERR_CTP_INVALID_JSON_BODY: 'invalid_json',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'invalid_request',
  FST_ERR_VALIDATION: 'invalid_request',
};

/** How the database reports its own troubles (see DialectAdapter). */
export interface DatabaseFaults {
  isUnavailable(error: unknown): boolean;
  isStorageFull(error: unknown): boolean;
}

/** Maps anything thrown to an ApiError; faults we did not foresee become a bare 500 (logged, never echoed). */
export function toApiError(error: unknown, faults: DatabaseFaults): ApiError {
  if (error instanceof ApiError) return error;
  const fastifyError = error as Partial<FastifyError>;
  const mapped = fastifyError.code ? fastifyCodes[fastifyError.code] : undefined;
  if (mapped) {
    const details: ErrorDetail[] =
      mapped === 'invalid_request' && fastifyError.message
        ? [{ field: '(request)', error: fastifyError.message }]
        : [];
    return new ApiError(mapped, { details });
  }
  if (faults.isStorageFull(error)) return new ApiError('storage_full');
  if (faults.isUnavailable(error)) {
    return new ApiError('service_unavailable', { headers: { 'Retry-After': '2' } });
  }
  const status = fastifyError.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    if (status === 404) return new ApiError('not_found');
    if (status === 413) return new ApiError('payload_too_large');
    if (status === 415) return new ApiError('unsupported_media_type');
    return new ApiError('invalid_request', { message: errorCodes.invalid_request.message });
  }
  return new ApiError('internal_error');
}

/**
 * Whether an answer is logged as a failed request (an error line with its stack). A 503
 * `limits_unavailable` is the failure policy at work, not a fault: limits/redis.ts and
 * limits/cluster-counters.ts say so in one warning every 10 s, not a stack per request.
 */
export function logsAsFailure(error: ApiError): boolean {
  return error.status >= 500 && error.code !== 'limits_unavailable';
}

/**
 * Logs an answer that failed: a fault as an error line with its stack; the database being
 * unavailable (503) or full (507) through the outage log, one warning every 10 s, for during an
 * outage every request fails so and a line each would bury everything else.
 */
export function logFailure(
  log: (WarningLog & { error(details: object, message: string): void }) | undefined,
  outage: OutageLog,
  apiError: ApiError,
  error: unknown,
  requestId: string,
): void {
  if (!logsAsFailure(apiError) || outage.noted(error, log)) return;
  log?.error({ err: error, request_id: requestId }, 'request failed');
}

/** The answer on a connection now (Node's own field), with the request it answers. */
type InFlight = ServerResponse & { req?: IncomingMessage };

/** The request whose body Node's parser is reading on `socket` (its headers were parsed), if any. */
function parsing(socket: Socket): IncomingMessage | null | undefined {
  return (socket as Socket & { parser?: { incoming?: IncomingMessage | null } | null }).parser?.incoming;
}

/** Connections whose parse error is being answered: Node reports each later chunk's error again. */
const refusing = new WeakSet<Socket>();

/**
 * Answers what Node's HTTP parser refused before any route saw it (a malformed request line,
 * header or Content-Length; headers over 16 KiB; a request slower than the request timeout) with
 * the one envelope and a request id, then closes the connection, as Node does after such errors.
 * Never in the middle of an answer: as Node does, nothing is written once a response's headers
 * went out; and a request that timed out is only answered on a connection that was never answered
 * (a 401 sent before the body arrived, say, must not be followed by a 408): others are closed.
 * Requests that arrived whole before the malformed bytes (pipelined on the same connection) are
 * answered first: a write among them is committed, and its 202 must not be lost to the 400.
 * Calls `answered` with the status it answered with and the answer's request id, if it answered.
 */
export function clientErrorHandler(
  error: Error & { code?: string; reason?: unknown },
  socket: Socket,
  answered?: (status: number, requestId: string) => void,
): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const inFlight = (socket as Socket & { _httpMessage?: InFlight | null })._httpMessage;
  if (
    error.code === 'HPE_INVALID_EOF_STATE' &&
    (inFlight?.req?.complete === false || parsing(socket)?.complete === false)
  ) {
    // The client closed the connection in the middle of a request's body: that request's route
    // counts it (499, in usage and /metrics), and nobody is left to send the rest or read a 400.
    // So too when that request was answered before its body was read (a 401, a 429) and the
    // client hung up then: it was counted as answered, not again as an unmatched 400.
    socket.destroy();
    return;
  }
  const timedOut = error.code === 'ERR_HTTP_REQUEST_TIMEOUT';
  const first = !refusing.has(socket);
  if (!timedOut && !first) return;
  refusing.add(socket);
  if (!timedOut && inFlight?.req?.complete) {
    // Node hands the connection to the next pipelined answer (or closes it) on 'finish' first.
    inFlight.once('finish', () => {
      refusing.delete(socket);
      clientErrorHandler(error, socket, answered);
    });
    return;
  }
  if (!socket.writable || inFlight?.headersSent || (timedOut && socket.bytesWritten > 0)) {
    socket.destroy();
    return;
  }
  const apiError =
    error.code === 'HPE_HEADER_OVERFLOW'
      ? new ApiError('headers_too_large')
      : timedOut
        ? new ApiError('request_timeout')
        : new ApiError('invalid_request', {
            message: 'Malformed HTTP request',
            details: [
              {
                field: '(request)',
                error: typeof error.reason === 'string' ? error.reason : 'Malformed HTTP',
              },
            ],
          });
  const id = newId('request');
  const body = errorBody(apiError, id);
  socket.write(
    `HTTP/1.1 ${apiError.status} ${STATUS_CODES[apiError.status]}\r\nRequest-Id: ${id}\r\n` +
      `Content-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
      `Connection: close\r\n\r\n${body}`,
  );
  socket.destroy();
  answered?.(apiError.status, id);
}

/**
 * What Node's HTTP server would otherwise answer itself, without the envelope or a request id:
 * an HTTP/1.1 request without Host (400), an `Expect` other than `100-continue` (417). Answered
 * here, then the connection is closed, as Node does. Returns the answer's request id.
 */
export function answerRefusedRequest(res: ServerResponse, apiError: ApiError): string {
  const id = newId('request');
  const body = errorBody(apiError, id);
  res.writeHead(apiError.status, {
    'request-id': id,
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    connection: 'close',
  });
  res.end(body);
  return id;
}

/** The methods registered for paths of this shape (wildcard routes aside), for a 405's Allow. */
function methodsForPath(routes: readonly RouteEntry[]): (path: string) => string[] {
  const shapes = new Map<string, { pattern: RegExp; methods: Set<string> }>();
  for (const { method, url } of routes) {
    if (url.includes('*')) continue;
    let shape = shapes.get(url);
    if (!shape) {
      const segments = url
        .split('/')
        .map((s) => (s.startsWith(':') ? '[^/]+' : s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
      shape = { pattern: new RegExp(`^${segments.join('/')}/?$`), methods: new Set() };
      shapes.set(url, shape);
    }
    shape.methods.add(method);
  }
  return (path) => {
    const methods = new Set<string>();
    for (const shape of shapes.values()) {
      if (shape.pattern.test(path)) for (const method of shape.methods) methods.add(method);
    }
    return [...methods].sort();
  };
}

/**
 * Fastify's own refusals before routing (its `frameworkErrors` option), in the one envelope with a
 * Request-Id: a percent-encoding that is not UTF-8 is a 400; a path segment longer than any
 * route takes (200 characters) is a 404, the path not echoed back at length.
 */
export function frameworkErrors(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  reply.header('Request-Id', request.id);
  const path = (request.raw.url ?? '').split('?')[0] ?? '';
  const shown = path.length > 100 ? `${path.slice(0, 100)}…` : path;
  let apiError: ApiError;
  if (error.code === 'FST_ERR_BAD_URL') {
    apiError = new ApiError('invalid_request', {
      message: 'The URL is not valid: a percent-encoded sequence in it is not UTF-8',
      details: [{ field: '(url)', error: `Cannot decode ${shown}` }],
    });
  } else if (error.code === 'FST_ERR_MAX_PARAM_LENGTH') {
    apiError = new ApiError('not_found', {
      message: `No route for ${request.raw.method} ${shown} (a path segment is longer than 200 characters)`,
    });
  } else {
    apiError = toApiError(error, { isUnavailable: () => false, isStorageFull: () => false });
  }
  sendError(reply, request, apiError);
}

/** The 404 of a path no route serves. */
export function noRoute(method: string, path: string): ApiError {
  return new ApiError('not_found', { message: `No route for ${method} ${path}` });
}

/** Where the not-found handler's answers are counted; set once the metrics exist. */
export interface UnmatchedAnswers {
  observe?: (method: string, status: number, seconds: number) => void;
}

/**
 * The error handler, and the answer for a path no route takes: 405 with `Allow` when the path
 * exists with other methods (`routes`: every route, collected as registered), else 404.
 */
export function registerErrorHandling(
  app: FastifyInstance,
  faults: DatabaseFaults,
  outage: OutageLog,
  routes: readonly RouteEntry[] = [],
  unmatched: UnmatchedAnswers = {},
): void {
  app.setErrorHandler((error, request, reply) => {
    // Fastify's own body limit (management API, App APIs) says no limit: the route's is named.
    const limit = request.routeOptions.bodyLimit;
    const code = (error as Partial<FastifyError>).code;
    const apiError =
      code === 'FST_ERR_CTP_BODY_TOO_LARGE' && limit !== undefined
        ? tooLarge(limit)
        : // Fastify picks a parser by the first of two Content-Types (`text/plain`, then JSON): the
          // repeat is refused as when JSON comes first (json-body.ts), not as the first's type.
          ((code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' ? repeatedContentType(request) : undefined) ??
          toApiError(error, faults));
    logFailure(request.log, outage, apiError, error, request.id);
    return sendError(reply, request, apiError);
  });
  let allowedMethods: ((path: string) => string[]) | undefined;
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0] ?? '';
    allowedMethods ??= methodsForPath(routes);
    const allowed = allowedMethods(path);
    let answer: FastifyReply;
    if (allowed.length > 0 && !allowed.includes(request.method)) {
      reply.header('allow', allowed.join(', '));
      answer = sendError(
        reply,
        request,
        new ApiError('method_not_allowed', {
          message: `Method ${request.method} is not allowed on ${path}; allowed: ${allowed.join(', ')}`,
        }),
      );
    } else {
      answer = sendError(reply, request, noRoute(request.method, path));
    }
    // No route, so no per-route metrics hook: counted here (a scanner's 404s, a client's 405s).
    unmatched.observe?.(request.method, reply.statusCode, reply.elapsedTime / 1000);
    return answer;
  });
}
