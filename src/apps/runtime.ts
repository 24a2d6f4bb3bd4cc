import type {
  FastifyInstance,
  FastifyReply,
  FastifyRequest,
  onRequestHookHandler,
  RouteHandlerMethod,
} from 'fastify';
import type { Config } from '../config.ts';
import { validationDetails } from '../endpoints/json-schema.ts';
import { ApiError, invalid } from '../errors.ts';
import { apiKeyAuth, bruteForceHook, NO_STORE, presentedSecret } from '../http/auth.ts';
import { roundedInteger, skipBody } from '../http/json-body.ts';
import { refuseMalformedQuery } from '../http/known-query.ts';
import { roundedNumberMessage } from '../infra/json/exact-json.ts';
import type { Environment, KeyService } from '../keys/key-service.ts';
import { registerTrafficHooks, type Traffic } from '../limits/traffic.ts';
import type { TokenService } from '../tokens/token-service.ts';
import type { AppRuntime, AppService } from './app-service.ts';
import { type CompiledApp, type CompiledRoute, type QueryValue, RESERVED_QUERY } from './definition.ts';
import { type PipelineDeps, type PipelineResult, runPipeline } from './pipeline.ts';
import { sandboxedPolicy } from './sandbox-policy.ts';

const DECIMAL = /^-?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;

/** App routes take bodies up to 5 MiB (the data API's limit is per endpoint). */
export const APP_BODY_LIMIT = 5 * 1024 * 1024;
const SLUG = /^[a-z0-9][a-z0-9-]{1,62}$/;
const JSON_TYPE = 'application/json; charset=utf-8';

declare module 'fastify' {
  interface FastifyRequest {
    /** The app route this request resolved to, set by the apps scope's authentication hook. */
    appCall: AppCall;
    /** The app named in the path, when it exists: looked up before the limits, for the usage label. */
    appRuntime: AppRuntime | null | undefined;
  }
}

interface AppCall {
  app: CompiledApp;
  route: CompiledRoute;
  params: Record<string, string>;
  environment: Environment;
}

export interface AppRuntimeDeps extends PipelineDeps {
  apps: AppService;
  keys: KeyService;
  tokens: TokenService;
  traffic: Traffic;
  config: Config;
}

/**
 * `GET|POST /api/v1/apps/{app}/…`: its own plugin scope, because a route's auth mode lives in
 * the app's definition. Credentials, when sent (an empty header is none), are verified first
 * (the data API's own `apiKeyAuth`) and choose the environment; the data API's traffic hooks (limits, usage,
 * failed-key counting) follow, then the app and route are resolved and the route's auth mode
 * checked, so that every call with a valid key is charged. A `public` route called without
 * credentials is served from `live` (`?environment=test`: the draft) and, having no key, is
 * neither rate limited nor metered.
 */
export function registerAppRuntime(scope: FastifyInstance, deps: AppRuntimeDeps): void {
  const keyAuth = apiKeyAuth(deps.keys, deps.tokens);
  // What the key check would take or refuse; an empty or blank header is none (presentedSecret).
  const hasCredentials = (request: FastifyRequest) => {
    try {
      return presentedSecret(request) !== undefined;
    } catch {
      return true;
    }
  };
  // Not stored by a cache (see NO_STORE), unless the route says otherwise with its own header.
  scope.addHook('onSend', (_request, reply, payload, done) => {
    if (!reply.hasHeader('cache-control')) reply.header('cache-control', NO_STORE);
    done(null, payload);
  });
  scope.addHook('onRequest', bruteForceHook(deps.traffic.bruteForce, deps.keys, deps.tokens));
  // The key first, then its limits, then the app and route: a call to an unknown app or route,
  // or outside the key's scope, is charged and refused when the key is used up, as on the data API.
  scope.addHook('onRequest', async (request, reply) => {
    if (hasCredentials(request)) await runHook(keyAuth, request, reply);
    const slug = (request.params as { app: string }).app;
    request.appRuntime = SLUG.test(slug) ? await deps.apps.runtime(slug) : null;
  });
  registerTrafficHooks(scope, deps.traffic, deps.config);
  scope.addHook('onRequest', async (request) => {
    request.appCall = await resolve(request);
  });

  async function resolve(request: FastifyRequest): Promise<AppCall> {
    const slug = (request.params as { app: string }).app;
    const credentials = hasCredentials(request);
    const wanted = (request.query as Record<string, unknown>)[RESERVED_QUERY];
    // As any declared parameter given twice (coerceQuery), not "Must be test or live" for `test` twice.
    if (Array.isArray(wanted)) throw invalid(RESERVED_QUERY, 'May be given only once');
    if (wanted !== undefined && wanted !== 'test' && wanted !== 'live')
      throw invalid(RESERVED_QUERY, 'Must be test or live');
    let environment: Environment;
    if (credentials) {
      // A key chooses its environment: one asked for otherwise is refused, never quietly swapped
      // (a live key's `?environment=test` would otherwise run, and write, live).
      environment = request.apiKey.environment;
      if (wanted !== undefined && wanted !== environment) {
        throw invalid(
          RESERVED_QUERY,
          `The ${environment} key calls ${environment}: leave ?environment out, or call with a ${wanted} key`,
        );
      }
    } else environment = wanted === 'test' ? 'test' : 'live';
    const runtime = request.appRuntime;
    if (!runtime) throw new ApiError('app_not_found', { message: `App "${slug}" not found` });
    const app = environment === 'live' ? runtime.live : runtime.draft;
    if (!app) {
      // Without credentials, only a public route learns that live is missing; others need a key first.
      const draftRoute = credentials ? undefined : matchOrNull(runtime.draft, request);
      if (!credentials && draftRoute?.route.auth !== 'public') throw new ApiError('missing_api_key');
      throw new ApiError('app_not_deployed');
    }
    let matched: ReturnType<typeof match>;
    try {
      matched = match(app, request);
    } catch (refusal) {
      await unreadBodyWithinLimit(request);
      throw refusal;
    }
    const { route, params } = matched;
    if (route.auth !== 'public') {
      if (!credentials) throw new ApiError('missing_api_key');
      if (route.auth === 'jwt' && !request.viaToken) {
        throw new ApiError('invalid_api_key', {
          message: 'This route takes a short-lived token (POST /api/v1/tokens), not the API key itself',
        });
      }
      const scopes = request.apiKey.scopes;
      if (!scopes.has('*') && !scopes.has(`apps:${slug}`))
        throw new ApiError('insufficient_scope', { message: `API key lacks the scope apps:${slug}` });
    }
    // A pipeline's writes commit step by step, and a step's response may be a redirect or HTML:
    // there is no one stored answer to replay, so a duplicate could not be told apart safely.
    if (request.method === 'POST' && request.headers['idempotency-key'] !== undefined) {
      throw invalid(
        'Idempotency-Key',
        'App API routes do not take Idempotency-Key (a pipeline writes step by step); use the data API for idempotent writes',
      );
    }
    return { app, route, params, environment };
  }

  const handler: RouteHandlerMethod = async (request, reply) => {
    const { route, params, environment } = request.appCall;
    // A value the parser could not decode is kept as sent: refused, not matched as if right.
    refuseMalformedQuery(request.url);
    const query = coerceQuery(route, request.query as Record<string, unknown>);
    let body: unknown = null;
    if (request.method === 'POST') {
      body = request.body ?? null;
      // A pipeline works on doubles (JSONata): an integer a double rounds would be changed
      // silently on its way to a record, so it is refused as the data API would keep it.
      const rounded = roundedInteger(body);
      if (rounded) {
        throw new ApiError('invalid_body', {
          message: 'An integer in the body has more digits than App APIs keep',
          details: [{ field: rounded.at || '(body)', error: roundedNumberMessage(rounded.sent) }],
        });
      }
      if (route.validateBody && !route.validateBody(body))
        throw new ApiError('validation_failed', { details: validationDetails(route.validateBody) });
    }
    const result = await runPipeline(deps, {
      route,
      environment,
      context: { params, query, body, headers: safeHeaders(request), environment },
      requestId: request.id,
      keyId: request.apiKey?.id ?? null,
    });
    return send(reply, result);
  };
  // Only GET and POST routes run; the other methods are taken so that the app's router answers
  // them as it answers a wrong GET or POST (405 with Allow, or 404), charged to the key, their
  // body unread (unreadBodyWithinLimit). The app's own URL, with no route part, is taken too: it
  // is an unknown route of that app.
  const methods = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;
  for (const url of ['/api/v1/apps/:app/*', '/api/v1/apps/:app'])
    scope.route({ method: [...methods], url, bodyLimit: APP_BODY_LIMIT, handler });
}

/**
 * No route takes this call (404, 405 with Allow, 400 for a malformed path), so nothing reads its
 * body: it is never parsed, whatever its Content-Type, but one over APP_BODY_LIMIT is 413 before
 * the refusal, as a DELETE's is (json-body.ts skipBody). A chunked body is counted to its end, or
 * until it passes the limit.
 */
function unreadBodyWithinLimit(request: FastifyRequest): Promise<void> {
  return new Promise((resolve, reject) =>
    skipBody(request, request.raw, APP_BODY_LIMIT, (error) => (error ? reject(error) : resolve())),
  );
}

function matchOrNull(app: CompiledApp, request: FastifyRequest): ReturnType<typeof match> | undefined {
  try {
    return match(app, request);
  } catch {
    return undefined;
  }
}

/** Runs a callback-style hook (the data API's key check) from inside an async one. */
function runHook(hook: onRequestHookHandler, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  return new Promise((resolve, reject) => {
    (hook as (r: FastifyRequest, p: FastifyReply, done: (error?: Error) => void) => void)(
      request,
      reply,
      (error) => (error ? reject(error) : resolve()),
    );
  });
}

/** The route for the path after `/api/v1/apps/{app}`: literal segments win over `:params`. */
function match(
  app: CompiledApp,
  request: FastifyRequest,
): { route: CompiledRoute; params: Record<string, string> } {
  const path = request.url.split('?')[0] ?? '';
  const raw = path.split('/').slice(5);
  if (raw.length > 1 && raw[raw.length - 1] === '') raw.pop();
  let segments: string[];
  try {
    segments = raw.map((s) => decodeURIComponent(s));
  } catch {
    throw invalid('(path)', 'Malformed percent-encoding in the path');
  }
  // HEAD is answered as GET, without the body, by the GET route, unless that route writes.
  const head = request.method === 'HEAD';
  const method = head ? 'GET' : request.method;
  let best: { route: CompiledRoute; rank: string } | undefined;
  const otherMethods = new Set<string>();
  for (const route of app.routes) {
    if (route.segments.length !== segments.length) continue;
    let rank = '';
    let ok = true;
    for (const [i, segment] of route.segments.entries()) {
      if ('literal' in segment) {
        if (segment.literal !== segments[i]) {
          ok = false;
          break;
        }
        rank += '0';
      } else if (segments[i] === '') {
        // `/orders//pay` names no order: an empty segment is no value for a :param, as in other routers.
        ok = false;
        break;
      } else rank += '1';
    }
    if (!ok) continue;
    if (route.method !== method) {
      otherMethods.add(route.method);
      if (route.method === 'GET' && !route.writes) otherMethods.add('HEAD');
      continue;
    }
    if (!best || rank < best.rank) best = { route, rank };
  }
  if (!best) {
    if (otherMethods.size > 0) {
      const allowed = [...otherMethods].sort().join(', ');
      throw new ApiError('method_not_allowed', {
        message: `Method ${request.method} is not allowed on ${path}; allowed: ${allowed}`,
        headers: { Allow: allowed },
      });
    }
    throw new ApiError('not_found', { message: `No route for ${request.method} ${path}` });
  }
  if (head && best.route.writes) {
    // HEAD is safe (RFC 9110): a link checker or a preview bot asking for headers must not write.
    const allowed = [...otherMethods, 'GET'].sort().join(', ');
    throw new ApiError('method_not_allowed', {
      message: `Method HEAD is not allowed on ${path}: its GET route writes records, and runs only for GET; allowed: ${allowed}`,
      headers: { Allow: allowed },
    });
  }
  const params: Record<string, string> = {};
  for (const [i, segment] of best.route.segments.entries()) {
    if ('param' in segment) params[segment.param] = segments[i] ?? '';
  }
  return { route: best.route, params };
}

/** Declared query parameters, typed; undeclared ones are not passed on. 400 names the parameter. */
function coerceQuery(route: CompiledRoute, raw: Record<string, unknown>): Record<string, QueryValue> {
  const out: Record<string, QueryValue> = {};
  for (const param of route.query) {
    const value = raw[param.name];
    if (value === undefined) {
      if (param.required) throw invalid(param.name, 'Required query parameter is missing');
      if (param.default !== undefined) out[param.name] = param.default;
      continue;
    }
    if (typeof value !== 'string') throw invalid(param.name, 'May be given only once');
    switch (param.type) {
      case 'string':
        out[param.name] = value;
        break;
      case 'integer': {
        const n = Number(value);
        if (!/^-?\d+$/.test(value)) throw invalid(param.name, 'Must be an integer');
        // A larger one would reach the pipeline rounded (JSONata works on doubles).
        if (!Number.isSafeInteger(n))
          throw invalid(param.name, 'Must be an integer from -9007199254740991 to 9007199254740991');
        out[param.name] = n;
        break;
      }
      case 'number': {
        // Decimal only: Number() would also take 0x10, 0b101 and 0o17.
        const n = Number(value);
        if (!DECIMAL.test(value) || !Number.isFinite(n)) throw invalid(param.name, 'Must be a number');
        out[param.name] = n;
        break;
      }
      case 'boolean':
        if (value === 'true' || value === '1') out[param.name] = true;
        else if (value === 'false' || value === '0') out[param.name] = false;
        else throw invalid(param.name, 'Must be true, false, 1 or 0');
        break;
    }
  }
  return out;
}

const HIDDEN_HEADER = /auth|token|secret|cookie|key|signature|session|csrf/i;
const SAFE_HEADERS = new Set([
  'accept',
  'accept-language',
  'content-type',
  'user-agent',
  'referer',
  'origin',
  'host',
]);

/** Headers an expression may read: common ones and `x-*`, never credentials or cookies. */
function safeHeaders(request: FastifyRequest): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (typeof value !== 'string') continue;
    if (SAFE_HEADERS.has(name) || (name.startsWith('x-') && !HIDDEN_HEADER.test(name))) out[name] = value;
  }
  return out;
}

function send(reply: FastifyReply, result: PipelineResult): FastifyReply {
  reply.header('x-content-type-options', 'nosniff');
  if (result.kind === 'redirect') return reply.code(result.status).header('location', result.location).send();
  if (result.kind === 'data') {
    return reply.type(JSON_TYPE).send(`{"success":true,"data":${JSON.stringify(result.data ?? null)}}`);
  }
  reply.code(result.status).headers(result.headers);
  if (result.body === undefined) return reply.send();
  const type = result.headers['content-type'];
  if (!type) return reply.type(JSON_TYPE).send(JSON.stringify(result.body));
  // Anything but JSON (text, HTML, an object's JSON sent as text/html) is served sandboxed, the
  // route's own policy or not: a browser may render it, and it must not script the dashboard's origin.
  const json = isJsonType(type);
  if (!json)
    reply.header('content-security-policy', sandboxedPolicy(result.headers['content-security-policy']));
  return reply.send(typeof result.body === 'string' && !json ? result.body : JSON.stringify(result.body));
}

/** `application/json` or a `+json` type, judged on the media type alone (not its parameters). */
function isJsonType(type: string): boolean {
  const media = (type.split(';')[0] ?? '').trim().toLowerCase();
  return media === 'application/json' || /^application\/[a-z0-9.!#$&^_-]+\+json$/.test(media);
}
