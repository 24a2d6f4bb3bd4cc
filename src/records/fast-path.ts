import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { EndpointService } from '../endpoints/endpoint-service.ts';
import { ApiError } from '../errors.ts';
import { NO_STORE, presentedSecret } from '../http/auth.ts';
import { type DatabaseFaults, errorBody, logFailure, toApiError } from '../http/error-handler.ts';
import { isJsonContentType, MAX_REQUEST_BYTES, parseJson } from '../http/json-body.ts';
import { logAnswer } from '../http/request-log.ts';
import { sentTwice, type WithHeaders } from '../http/single-header.ts';
import { parseIdempotencyKey } from '../idempotency/idempotency-key.ts';
import { type InFlight, replayHeaders } from '../idempotency/idempotency-service.ts';
import { isId, newId } from '../ids.ts';
import type { OutageLog } from '../infra/db/outage-log.ts';
import type { AuthenticatedKey, KeyService } from '../keys/key-service.ts';
import { rateLimitHeaders } from '../limits/headers.ts';
import { enforceLimits, type LimitedRequest } from '../limits/hooks.ts';
import type { LimitDecision } from '../limits/rate-limiter.ts';
import { CLIENT_CLOSED, chargedAt, type Traffic } from '../limits/traffic.ts';
import { queuedBody } from './record-json.ts';
import type { RecordReader } from './record-reader.ts';
import type { RecordWriter, WriteCommand, WriteOperation } from './record-writer.ts';
import { recordData, SLUG, type Target, targetFor, writeCommand } from './routes.ts';

const JSON_TYPE = 'application/json; charset=utf-8';
const GET_BY_ID = /^\/api\/v1\/data\/([a-z0-9][a-z0-9-]{1,62})\/([A-Za-z0-9_]{1,64})$/;
const CREATE = /^\/api\/v1\/data\/([a-z0-9][a-z0-9-]{1,62})$/;
const WRITES = { POST: 'create', PUT: 'replace', DELETE: 'delete' } as const;

export interface FastPathDeps {
  keys: KeyService;
  endpoints: EndpointService;
  reader: RecordReader;
  writer: RecordWriter;
  traffic: Traffic;
  onRedisFailure: 'open' | 'closed';
  faults: DatabaseFaults;
  /** Where a database outage is said (once every 10 s, not a stack per request). */
  outage: OutageLog;
  /** Run on every write before it is committed (the Idempotency-Key is the fast path's own). */
  writePreparers: ReadonlyArray<(request: WithHeaders, command: WriteCommand) => void>;
  /** Metrics for the two routes (a record, the collection), under the same labels as Fastify's. */
  observe: { record: Observe; collection: Observe };
  logger: Logger | undefined;
  /** The client's address, as Fastify's `request.ip` gives it (behind trusted proxies too). */
  clientAddress(req: IncomingMessage): string;
}

type Observe = (method: string, status: number, seconds: number) => void;

/** One request on the fast path, after it was taken: what the limit check and the answer need. */
interface Call extends LimitedRequest {
  id: string;
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  apiKey: AuthenticatedKey;
  rateLimit: LimitDecision | undefined;
  target: Target;
  /** GET, PUT, DELETE: the record asked for. */
  recordId: string | undefined;
  /** A write's Idempotency-Key, when it was sent (and well formed). */
  idempotencyKey: string | undefined;
  url: string;
  observe: Observe;
  started: number;
  /** The endpoint this call counts under in usage: empty until it passed the limit. */
  usageLabel: string;
}

/**
 * The data API's hot calls, GET a record by id, POST a new record, PUT and DELETE one, answered
 * straight from node:http without Fastify's routing, hook chain and reply pipeline (about a
 * third of their cost). Same checks, same order, same answers as the routes in routes.ts: the
 * fast path takes a request only when every check before the first side effect (charging the
 * rate limit) passes from cache, and hands everything else to Fastify untouched: unknown or
 * uncached keys and endpoints, JWTs, a malformed Idempotency-Key, odd URLs or bodies, and every
 * error before the limit. test/fast-path.test.ts compares both paths answer by answer.
 */
export function createDataFastPath(deps: FastPathDeps) {
  const { keys, endpoints, reader, writer, traffic } = deps;
  const { idempotency } = traffic;
  const limit = enforceLimits({ limiter: traffic.limiter, onFailure: deps.onRedisFailure });
  let closing = false;

  /** The key, when it is a plain API key already in the cache and in good standing; else undefined. */
  function cachedKey(req: IncomingMessage): AuthenticatedKey | undefined {
    try {
      const secret = presentedSecret(req);
      // Absent, or a JWT (three dot-separated parts): Fastify's path decides. Malformed throws.
      if (!secret || secret.includes('.')) return undefined;
      const key = keys.verify(secret, undefined, req.socket);
      if (!(key instanceof Promise)) return key;
      // Not cached: Fastify's path looks it up (this lookup only warms the cache).
      key.catch(() => {});
      return undefined;
    } catch {
      return undefined;
    }
  }

  function cachedTarget(key: AuthenticatedKey, slug: string, action: 'read' | 'write'): Target | undefined {
    if (!SLUG.test(slug)) return undefined;
    const cached = endpoints.peekRuntime(slug);
    if (!cached) return undefined;
    try {
      return targetFor(key, slug, action, cached.value);
    } catch {
      return undefined;
    }
  }

  function blocked(req: IncomingMessage): boolean {
    try {
      traffic.bruteForce.guard({ ip: deps.clientAddress(req) });
      return false;
    } catch {
      return true;
    }
  }

  function answer(
    res: ServerResponse,
    call: Call,
    status: number,
    body: string,
    extra?: Record<string, string>,
  ): void {
    const headers: Record<string, string> = {
      'request-id': call.id,
      'content-type': JSON_TYPE,
      'content-length': String(Buffer.byteLength(body)),
      'cache-control': NO_STORE,
    };
    const decision = call.rateLimit;
    if (decision) Object.assign(headers, rateLimitHeaders(decision, Date.now()));
    if (extra) for (const name of Object.keys(extra)) headers[name.toLowerCase()] = extra[name] as string;
    res.writeHead(status, headers);
    res.end(body);
    recordUsage(call, status);
  }

  function recordUsage(call: Call, status: number): void {
    const key = call.apiKey;
    traffic.usage.record({
      keyId: key.id,
      endpoint: call.usageLabel,
      environment: key.environment,
      status,
      rateLimited: call.rateLimit?.outcome === 'rejected',
      at: chargedAt(call.rateLimit),
    });
  }

  function fail(res: ServerResponse, call: Call, error: unknown): number {
    const apiError = toApiError(error, deps.faults);
    logFailure(deps.logger, deps.outage, apiError, error, call.id);
    // Fastify closes the connection after a body it could not parse; so does the fast path.
    const headers =
      apiError.code === 'invalid_json' ? { ...apiError.headers, connection: 'close' } : apiError.headers;
    answer(res, call, apiError.status, errorBody(apiError, call.id), headers);
    return apiError.status;
  }

  /** The client hung up before its answer: nobody to answer; counted in usage as Fastify's path counts it. */
  function abandoned(res: ServerResponse, call: Call): number {
    res.destroy();
    recordUsage(call, CLIENT_CLOSED);
    return CLIENT_CLOSED;
  }

  const requestLog = deps.logger?.isLevelEnabled('debug') ? deps.logger : undefined;
  function settle(call: Call, status: number): void {
    const ms = performance.now() - call.started;
    call.observe(call.method, status, ms / 1000);
    if (requestLog) logAnswer(requestLog, call.id, call.method, call.url, status, ms);
  }

  /**
   * A GET's record, answered. A client that left while the limit or the read waited gets no
   * answer, and usage counts it as 499, as Fastify's abort hook does.
   */
  function found(req: IncomingMessage, res: ServerResponse, call: Call, json: string): void {
    if (req.destroyed) {
      settle(call, abandoned(res, call));
      return;
    }
    answer(res, call, 200, `{"success":true,"data":${json}}`);
    settle(call, 200);
  }

  function proceed(req: IncomingMessage, res: ServerResponse, call: Call): void {
    // As in Fastify, where the target is resolved after the limit: a refused call counts under "".
    call.usageLabel = call.target.endpoint.slug;
    if (call.method !== 'GET') {
      write(req, res, call).then(
        (status) => settle(call, status),
        (error: unknown) => settle(call, req.complete ? fail(res, call, error) : abandoned(res, call)),
      );
      return;
    }
    try {
      const json = reader.get(call.target.endpoint, call.apiKey.environment, call.recordId as string);
      if (typeof json === 'string') found(req, res, call, json);
      else
        json.then(
          (text) => found(req, res, call, text),
          (error: unknown) => settle(call, req.destroyed ? abandoned(res, call) : fail(res, call, error)),
        );
    } catch (error) {
      settle(call, fail(res, call, error));
    }
  }

  /**
   * Charges the rate limit first, as Fastify's onRequest hook does (before the body is read);
   * a refusal (429, or 503 with Redis down and the closed policy) is answered here.
   */
  function start(req: IncomingMessage, res: ServerResponse, call: Call): void {
    let pending: void | Promise<void>;
    try {
      pending = limit(call);
    } catch (error) {
      settle(call, fail(res, call, error));
      return;
    }
    if (!pending) proceed(req, res, call);
    else
      pending.then(
        () => proceed(req, res, call),
        (error: unknown) => settle(call, fail(res, call, error)),
      );
  }

  /** The body, as Node's parser delivers it (never more than the declared Content-Length). */
  function readBody(req: IncomingMessage): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      // Gone already (while the limit was checked, say on Redis): no 'close' is coming to say so.
      if (req.destroyed) {
        reject(new ApiError('invalid_request', { message: 'The request body was cut short' }));
        return;
      }
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks)));
      req.on('error', reject);
      // The client went away mid-body: nothing is written (and nobody is left to answer).
      req.on('close', () => {
        if (!req.complete)
          reject(new ApiError('invalid_request', { message: 'The request body was cut short' }));
      });
    });
  }

  async function write(req: IncomingMessage, res: ServerResponse, call: Call): Promise<number> {
    const operation = WRITES[call.method as 'POST' | 'PUT' | 'DELETE'];
    const body = operation === 'delete' ? undefined : parseJson(await readBody(req));
    let held: InFlight | undefined;
    if (call.idempotencyKey !== undefined) {
      // As Fastify's preHandler: after the body is parsed, before it is validated.
      const request = { method: call.method, url: call.url, body, headers: req.headers };
      const begun = await idempotency.begin(call.apiKey.id, call.idempotencyKey, request, call.id);
      if (begun.replay) {
        answer(res, call, begun.replay.status_code, begun.replay.response_body, replayHeaders(begun.replay));
        return begun.replay.status_code;
      }
      held = begun.state;
    }
    let recordId: string;
    try {
      recordId = await committed(req, operation, call, body, held);
    } finally {
      // As Fastify's onSend: the answer is decided, so the key is let go before it is sent.
      if (held) await idempotency.unlock(held, call.id).catch(() => {});
    }
    answer(res, call, 202, queuedBody(recordId));
    return 202;
  }

  /** The write, validated and committed: the record's id. */
  async function committed(
    req: IncomingMessage,
    operation: WriteOperation,
    call: Call,
    body: unknown,
    held: InFlight | undefined,
  ): Promise<string> {
    const data = operation === 'delete' ? null : recordData(body, call.target.version);
    const recordId = operation === 'create' ? newId('record') : (call.recordId as string);
    const command = writeCommand(operation, call.target, call.apiKey, recordId, data, call.id);
    for (const prepare of deps.writePreparers) prepare(req, command);
    if (held) command.idempotency = idempotency.record(call.apiKey.id, held);
    const outcome = await writer.write(command);
    if (!outcome.ok) throw outcome.error;
    return outcome.recordId;
  }

  return {
    /** Stops taking requests: Fastify answers them (503 while the server closes). */
    close(): void {
      closing = true;
    },

    /** Answers the request and returns true, or returns false without touching it. */
    handle(req: IncomingMessage, res: ServerResponse): boolean {
      if (closing) return false;
      const url = req.url as string;
      const method = req.method;
      let match: RegExpExecArray | null;
      const headers = req.headers;
      if (method === 'POST') match = CREATE.exec(url);
      else if (method === 'GET' || method === 'PUT' || method === 'DELETE') {
        match = GET_BY_ID.exec(url);
        if (match && !isId('record', match[2] as string)) return false;
      } else return false;
      if (!match) return false;
      const action = method === 'GET' ? 'read' : 'write';
      // Writes: only plain JSON bodies, typed once (a DELETE: none at all; one sent, which means
      // nothing, is checked against max_body_bytes on Fastify's path, json-body.ts skipBody).
      if (
        action === 'write' &&
        (headers['transfer-encoding'] !== undefined ||
          headers.expect !== undefined ||
          (method === 'DELETE'
            ? headers['content-length'] !== undefined
            : headers['content-encoding'] !== undefined ||
              !isJsonContentType(headers['content-type']) ||
              sentTwice(req, 'content-type')))
      ) {
        return false;
      }
      // A malformed Idempotency-Key (400) is Fastify's to answer; a GET's is never read.
      let idempotencyKey: string | undefined;
      if (action === 'write' && headers['idempotency-key'] !== undefined) {
        try {
          idempotencyKey = parseIdempotencyKey(req);
        } catch {
          return false;
        }
      }
      const started = performance.now();
      if (blocked(req)) return false;
      const key = cachedKey(req);
      if (!key) return false;
      const target = cachedTarget(key, match[1] as string, action);
      if (!target) return false;
      if (action === 'write' && method !== 'DELETE') {
        const length = headers['content-length'];
        if (length === undefined || !/^[1-9]\d{0,8}$/.test(length)) return false;
        if (Number(length) > Math.min(target.version.maxBodyBytes, MAX_REQUEST_BYTES)) return false;
      }
      start(req, res, {
        id: newId('request'),
        method,
        apiKey: key,
        rateLimit: undefined,
        target,
        recordId: match[2],
        idempotencyKey,
        url,
        observe: method === 'POST' ? deps.observe.collection : deps.observe.record,
        started,
        usageLabel: '',
      });
      return true;
    },
  };
}

export type DataFastPath = ReturnType<typeof createDataFastPath>;
