import type { FastifyInstance, FastifyReply, FastifyRequest, RequestPayload } from 'fastify';
import { refuseClosedEndpoint } from '../endpoints/endpoint-open.ts';
import type { EndpointRuntime, EndpointService, SchemaVersion } from '../endpoints/endpoint-service.ts';
import { validationDetails } from '../endpoints/json-schema.ts';
import { ApiError, invalid } from '../errors.ts';
import { noRoute } from '../http/error-handler.ts';
import { guardJsonBody, jsonText, skipBody } from '../http/json-body.ts';
import { refuseMalformedQuery } from '../http/known-query.ts';
import { syncFirstHook } from '../http/sync-hook.ts';
import { isId, newId } from '../ids.ts';
import { type AuthenticatedKey, hasScope } from '../keys/key-service.ts';
import { queuedBody } from './record-json.ts';
import { parseListQuery, type RecordReader } from './record-reader.ts';
import type { RecordWriter, WriteCommand, WriteOperation } from './record-writer.ts';

export const SLUG = /^[a-z0-9][a-z0-9-]{1,62}$/;
const JSON_TYPE = 'application/json; charset=utf-8';

declare module 'fastify' {
  interface FastifyRequest {
    target: Target;
    /** The endpoint's slug once it is found, even if the call is then refused (403): usage counts it there. */
    endpointSlug?: string;
  }
}

export interface RecordRouteDeps {
  endpoints: EndpointService;
  reader: RecordReader;
  writer: RecordWriter;
  /** Later stages (callbacks, idempotency…) add to a write before it is committed, in this order. */
  writePreparers?: ReadonlyArray<(request: FastifyRequest, command: WriteCommand) => Promise<void> | void>;
}

type Params = { slug: string; id?: string };
type PreParsingDone = (error?: Error | null, payload?: RequestPayload) => void;

/** A write's body as the record's stored JSON: present, an object, valid against the schema. */
export function recordData(body: unknown, version: SchemaVersion): string {
  if (body === undefined) throw new ApiError('invalid_json', { message: 'Invalid JSON: the body is empty' });
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new ApiError('invalid_body');
  if (!version.validate(body)) {
    throw new ApiError('validation_failed', { details: validationDetails(version.validate) });
  }
  return jsonText(body);
}

export interface Target {
  endpoint: EndpointRuntime;
  version: SchemaVersion;
}

/** 404 for an unknown endpoint; 403 for missing scope, inactive, expired or undeployed. */
export function targetFor(
  key: AuthenticatedKey,
  slug: string,
  action: 'read' | 'write',
  endpoint: EndpointRuntime | null,
): Target {
  if (!endpoint) throw new ApiError('endpoint_not_found', { message: `Endpoint "${slug}" not found` });
  if (!hasScope(key, slug, action)) {
    throw new ApiError('insufficient_scope', {
      message: `API key lacks the scope ${slug}:${action} (or records:${action})`,
    });
  }
  refuseClosedEndpoint(endpoint);
  const version = key.environment === 'live' ? endpoint.live : endpoint.draft;
  if (!version) throw new ApiError('endpoint_not_deployed');
  return { endpoint, version };
}

/** The write the data API hands to the record writer (both the Fastify routes and fast-path.ts). */
export function writeCommand(
  operation: WriteOperation,
  { endpoint }: Target,
  key: AuthenticatedKey,
  recordId: string,
  data: string | null,
  requestId: string,
): WriteCommand {
  return {
    operation,
    endpointId: endpoint.id,
    slug: endpoint.slug,
    environment: key.environment,
    recordId,
    data,
    requestId,
    keyId: key.id,
    source: 'api',
    callback: null,
  };
}

/** The data API: `/api/v1/data/{slug}[/{id}]`. Runs after API-key authentication. */
/**
 * `/api/v1/data//orders` matches `:slug/:id` with an empty slug: no route, as for a POST there,
 * with a key or without one. An onRequest hook of the API's scope, added before its access hooks.
 */
export function refuseEmptySlug(
  request: FastifyRequest,
  _reply: FastifyReply,
  done: (error?: Error) => void,
): void {
  if (
    (request.params as Partial<Params>).slug === '' &&
    request.routeOptions.url?.startsWith('/api/v1/data/')
  )
    done(noRoute(request.method, request.url.split('?')[0] ?? ''));
  else done();
}

export function registerRecordRoutes(app: FastifyInstance, deps: RecordRouteDeps): void {
  const { endpoints, reader, writer } = deps;

  function checkTarget(
    request: FastifyRequest,
    action: 'read' | 'write',
    endpoint: EndpointRuntime | null,
  ): void {
    if (endpoint) request.endpointSlug = endpoint.slug;
    request.target = targetFor(request.apiKey, (request.params as Params).slug, action, endpoint);
  }

  /** Synchronous when the endpoint is cached (the usual case). */
  function resolveTarget(request: FastifyRequest, action: 'read' | 'write'): void | Promise<void> {
    const { slug } = request.params as Params;
    if (!SLUG.test(slug)) return checkTarget(request, action, null);
    const cached = endpoints.peekRuntime(slug);
    if (cached) return checkTarget(request, action, cached.value);
    return endpoints.runtime(slug).then((endpoint) => checkTarget(request, action, endpoint));
  }

  function recordId(request: FastifyRequest): string {
    const { id } = request.params as Params;
    if (!id || !isId('record', id)) throw new ApiError('record_not_found');
    return id;
  }

  const readHook = { preHandler: syncFirstHook((request) => resolveTarget(request, 'read')) };
  /** A write's body checked as it streams in; a DELETE's, which means nothing, only against the limit. */
  const guard = (request: FastifyRequest, payload: RequestPayload, done: PreParsingDone): void => {
    const limit = request.target.version.maxBodyBytes;
    if (request.method === 'DELETE') skipBody(request, payload, limit, (error) => done(error, payload));
    else done(null, guardJsonBody(request, payload, limit));
  };
  const writeHooks = {
    config: { limitsDeleteBody: true },
    // Callback style: with the endpoint cached (the usual case) no promise is made.
    preParsing: (
      request: FastifyRequest,
      _reply: FastifyReply,
      payload: RequestPayload,
      done: PreParsingDone,
    ) => {
      try {
        const pending = resolveTarget(request, 'write');
        if (!pending) return guard(request, payload, done);
        pending.then(
          () => {
            try {
              guard(request, payload, done);
            } catch (error) {
              done(error as Error);
            }
          },
          (error: Error) => done(error),
        );
      } catch (error) {
        done(error as Error);
      }
    },
  };

  async function write(request: FastifyRequest, reply: FastifyReply, operation: WriteOperation, id: string) {
    // A write takes no query parameters: one a client thinks it sends (`?dry_run=1`, `?version=3`)
    // is refused, not ignored while the write goes through.
    for (const name in request.query as Record<string, unknown>) {
      throw invalid(name, 'Unknown query parameter: writes take none (the record is the body)');
    }
    const data = operation === 'delete' ? null : recordData(request.body, request.target.version);
    const command = writeCommand(operation, request.target, request.apiKey, id, data, request.id);
    for (const prepare of deps.writePreparers ?? []) await prepare(request, command);
    const outcome = await writer.write(command);
    if (!outcome.ok) throw outcome.error;
    return reply.code(202).type(JSON_TYPE).send(queuedBody(outcome.recordId));
  }

  app.post('/api/v1/data/:slug', writeHooks, (request, reply) =>
    write(request, reply, 'create', newId('record')),
  );
  app.put('/api/v1/data/:slug/:id', writeHooks, (request, reply) =>
    write(request, reply, 'replace', recordId(request)),
  );
  app.delete('/api/v1/data/:slug/:id', writeHooks, (request, reply) =>
    write(request, reply, 'delete', recordId(request)),
  );

  app.get('/api/v1/data/:slug/:id', readHook, async (request, reply) => {
    const json = await reader.get(request.target.endpoint, request.apiKey.environment, recordId(request));
    return reply.type(JSON_TYPE).send(`{"success":true,"data":${json}}`);
  });

  app.get('/api/v1/data/:slug', readHook, async (request, reply) => {
    const { endpoint, version } = request.target;
    refuseMalformedQuery(request.url, 'after');
    const query = parseListQuery(request.query as Record<string, unknown>, version);
    const page = await reader.list(endpoint, request.apiKey.environment, query);
    const cursor = page.nextCursor === null ? 'null' : `"${page.nextCursor}"`;
    return reply
      .type(JSON_TYPE)
      .send(`{"success":true,"data":${page.items},"meta":{"next_cursor":${cursor},"limit":${query.limit}}}`);
  });
}
