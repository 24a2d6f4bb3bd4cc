import { type ClosedEndpointMessages, refuseClosedEndpoint } from '../endpoints/endpoint-open.ts';
import type { EndpointRuntime, EndpointService, SchemaVersion } from '../endpoints/endpoint-service.ts';
import { validationDetails } from '../endpoints/json-schema.ts';
import { ApiError } from '../errors.ts';
import { MAX_JSON_DEPTH, unstorableString } from '../http/json-body.ts';
import { sendableHeader } from '../http/single-header.ts';
import { isId, newId } from '../ids.ts';
import type { Environment } from '../keys/key-service.ts';
import type { FilterValue, RecordReader } from '../records/record-reader.ts';
import type { RecordWriter, WriteOperation } from '../records/record-writer.ts';
import type { CompiledRoute, CompiledStep } from './definition.ts';
import { type Expression, ExpressionError, PIPELINE_TIMEOUT_MS } from './expressions.ts';
import type { FindQuery, RecordFinder } from './record-find.ts';

/**
 * Runs a route's steps in order over one context. Reads go through the data API's reader, writes
 * through its record writer (`source: 'api'`: the endpoint's JSON Schema, the outbox and so the
 * webhooks, exactly as a data API write). The first step that fails stops the pipeline with an
 * error naming it; writes of earlier steps stay committed (each write is its own transaction).
 */

export interface PipelineDeps {
  endpoints: EndpointService;
  reader: RecordReader;
  writer: RecordWriter;
  find: RecordFinder;
}

export interface PipelineInput {
  route: CompiledRoute;
  environment: Environment;
  /** params, query, body, headers, environment; step outputs are added by name. */
  context: Record<string, unknown>;
  requestId: string;
  keyId: string | null;
}

export type PipelineResult =
  | { kind: 'respond'; status: number; headers: Record<string, string>; body: unknown }
  | { kind: 'redirect'; status: number; location: string }
  | { kind: 'data'; data: unknown };

class Stop {
  constructor(readonly result: PipelineResult) {}
}

/** The data API's codes for a closed endpoint; the messages name it, which a step's caller cannot see. */
const NAMED_CLOSED_ENDPOINT: ClosedEndpointMessages = {
  inactive: (slug) => `Endpoint "${slug}" is inactive`,
  expired: (slug) => `Endpoint "${slug}": its subscription expired`,
};

/**
 * http(s), or a path on this site: not `//host` nor `/\host`, which browsers read as another host.
 * The rest may hold spaces (`?q=red shoes`, from a query parameter): asLocation encodes them.
 */
const SAFE_URL = /^(https?:\/\/\S|\/(?![/\\]))/i;

/**
 * A redirect's Location as a header can carry it: spaces and characters past ASCII
 * percent-encoded (as a browser would send them), control characters and unpaired surrogates
 * refused (undefined).
 */
function asLocation(url: string): string | undefined {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
  if (/[\u0000-\u001f\u007f]/.test(url)) return undefined;
  try {
    return url.replace(/[^\u0021-\u007e]+/g, (run) => encodeURIComponent(run));
  } catch {
    return undefined;
  }
}

export async function runPipeline(deps: PipelineDeps, input: PipelineInput): Promise<PipelineResult> {
  const { context, environment } = input;
  const deadline = Date.now() + PIPELINE_TIMEOUT_MS;
  let writes = 0;
  let last: unknown = null;

  for (const step of input.route.steps) {
    const run = stepRunner(step);
    if (step.when && !truthy(await run.eval('when', step.when))) continue;
    let output: unknown;
    try {
      output = await runStep(step, run);
    } catch (error) {
      if (error instanceof Stop) return error.result;
      throw named(step.name, error);
    }
    context[step.name] = output;
    last = output;
  }
  return { kind: 'data', data: last ?? null };

  function stepRunner(step: CompiledStep) {
    return {
      async eval(field: string, expression: Expression): Promise<unknown> {
        if (Date.now() > deadline)
          throw budget(step.name, field, `The pipeline ran longer than ${PIPELINE_TIMEOUT_MS} ms`);
        try {
          return await expression.evaluate(context);
        } catch (error) {
          if (!(error instanceof ExpressionError)) throw error;
          if (error.kind === 'timeout' || error.kind === 'size')
            throw budget(step.name, field, error.message);
          throw failed(step.name, field, error.message);
        }
      },
      fail(field: string, message: string): ApiError {
        return failed(step.name, field, message);
      },
    };
  }

  async function runStep(step: CompiledStep, run: ReturnType<typeof stepRunner>): Promise<unknown> {
    switch (step.type) {
      case 'transform':
        return (await run.eval('expression', step.expression)) ?? null;
      case 'find': {
        const query: FindQuery = { filters: [], order: step.order, limit: 25 };
        for (const filter of step.filters) {
          const field = `filter.${filter.field}${filter.op === 'eq' ? '' : `.${filter.op}`}`;
          const value = await run.eval(field, filter.value);
          if (value === undefined) continue; // nothing to compare with: the filter is left out
          if (!isFilterValue(value))
            throw run.fail(field, 'Must evaluate to a string, number, boolean or null');
          // No stored text holds U+0000, and PostgreSQL cannot compare with it: a caller's value.
          if (typeof value === 'string' && value.includes('\0'))
            throw new ApiError('invalid_request', { details: [{ field, error: 'Cannot hold U+0000' }] });
          if (value === null && filter.op !== 'eq') throw run.fail(field, 'A range bound cannot be null');
          query.filters.push({ field: filter.field, op: filter.op, value });
        }
        if (typeof step.limit === 'number') query.limit = step.limit;
        else {
          const limit = await run.eval('limit', step.limit);
          // Nothing (an optional query parameter not given) keeps the default, as a filter is left out.
          if (limit !== undefined) {
            if (!Number.isInteger(limit) || (limit as number) < 1 || (limit as number) > 100)
              throw run.fail('limit', 'Must evaluate to an integer from 1 to 100');
            query.limit = limit as number;
          }
        }
        const { endpoint } = await target(step.endpoint);
        return JSON.parse(await deps.find(endpoint, environment, query)) as unknown;
      }
      case 'get': {
        const id = await recordId(run, step.id);
        const { endpoint } = await target(step.endpoint);
        try {
          if (!isId('record', id)) throw new ApiError('record_not_found');
          return JSON.parse(await deps.reader.get(endpoint, environment, id)) as unknown;
        } catch (error) {
          if (step.optional && error instanceof ApiError && error.code === 'record_not_found') return null;
          throw error;
        }
      }
      case 'create':
      case 'update': {
        const id = step.type === 'update' ? await recordId(run, step.id) : newId('record');
        const data = await run.eval('data', step.data);
        const { endpoint, version } = await target(step.endpoint);
        const text = validated(data, version);
        await write(step.type === 'create' ? 'create' : 'replace', endpoint, id, text);
        return JSON.parse(await deps.reader.get(endpoint, environment, id)) as unknown;
      }
      case 'delete': {
        const id = await recordId(run, step.id);
        const { endpoint } = await target(step.endpoint);
        await write('delete', endpoint, id, null);
        return { id, object: 'record', endpoint: endpoint.slug, deleted: true };
      }
      case 'respond': {
        let status = 200;
        if (typeof step.status === 'number') status = step.status;
        else {
          const value = await run.eval('status', step.status);
          // Nothing keeps the default, 200.
          if (value !== undefined) {
            if (
              !Number.isInteger(value) ||
              (value as number) < 200 ||
              (value as number) > 599 ||
              isRedirect(value)
            )
              throw run.fail(
                'status',
                'Must evaluate to an integer from 200 to 599 (not 3xx: use a redirect step)',
              );
            status = value as number;
          }
        }
        const headers: Record<string, string> = {};
        for (const [name, expression] of step.headers) {
          const value = await run.eval(`headers.${name}`, expression);
          if (value === undefined || value === null) continue;
          if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean')
            throw run.fail(`headers.${name}`, 'Must evaluate to a string, number or boolean');
          const text = String(value);
          if (text.length > 8192 || !sendableHeader(name, text))
            throw run.fail(
              `headers.${name}`,
              'Header values cannot hold line breaks, control characters or characters past U+00FF, nor exceed 8192 characters',
            );
          headers[name] = text;
        }
        // A body that yields nothing (`matches[0].data` with no match) is null, as a transform's
        // output is: an empty 200 without a content type broke clients that read JSON.
        const body = step.body ? ((await run.eval('body', step.body)) ?? null) : undefined;
        throw new Stop({ kind: 'respond', status, headers, body });
      }
      case 'redirect': {
        const url = await run.eval('url', step.url);
        const location =
          typeof url === 'string' && url.length <= 8192 && SAFE_URL.test(url) ? asLocation(url) : undefined;
        if (location === undefined)
          throw run.fail(
            'url',
            'Must evaluate to an http(s) URL or a path starting with "/" (no control characters)',
          );
        throw new Stop({ kind: 'redirect', status: step.status, location });
      }
    }
  }

  async function recordId(run: ReturnType<typeof stepRunner>, expression: Expression): Promise<string> {
    const id = await run.eval('id', expression);
    if (typeof id !== 'string' || id === '') throw run.fail('id', 'Must evaluate to a record id (a string)');
    return id;
  }

  /** The endpoint as the data API would resolve it for this environment: 404/403 likewise. */
  async function target(slug: string): Promise<{ endpoint: EndpointRuntime; version: SchemaVersion }> {
    const endpoint = await deps.endpoints.runtime(slug);
    if (!endpoint) throw new ApiError('endpoint_not_found', { message: `Endpoint "${slug}" not found` });
    refuseClosedEndpoint(endpoint, NAMED_CLOSED_ENDPOINT);
    const version = environment === 'live' ? endpoint.live : endpoint.draft;
    if (!version)
      throw new ApiError('endpoint_not_deployed', {
        message: `Endpoint "${slug}" is not deployed to live: deploy it (gatehouse endpoints deploy ${slug})`,
      });
    return { endpoint, version };
  }

  async function write(
    operation: WriteOperation,
    endpoint: EndpointRuntime,
    id: string,
    data: string | null,
  ) {
    if (operation !== 'create' && !isId('record', id)) throw new ApiError('record_not_found');
    // Each write has its own request (outbox entry); the first carries the HTTP request's id.
    const requestId = writes === 0 ? input.requestId : newId('request');
    writes += 1;
    const outcome = await deps.writer.write({
      operation,
      endpointId: endpoint.id,
      slug: endpoint.slug,
      environment,
      recordId: id,
      data,
      requestId,
      keyId: input.keyId,
      source: 'api',
      callback: null,
    });
    if (!outcome.ok) throw outcome.error;
  }
}

/** The data API's rules for a record body: an object, within max_body_bytes, valid against the schema. */
function validated(data: unknown, version: SchemaVersion): string {
  if (typeof data !== 'object' || data === null || Array.isArray(data))
    throw new ApiError('invalid_body', { message: 'The record data must evaluate to a JSON object' });
  // As the data API refuses it: PostgreSQL cannot hold U+0000, and no text half a surrogate pair
  // (from a path or query parameter, or an expression such as $decodeUrlComponent('%00')).
  const unstorable = unstorableString(data);
  if (unstorable) {
    throw new ApiError('invalid_body', {
      message: 'The record data holds a string that cannot be stored',
      details: [{ field: unstorable.at, error: unstorable.error }],
    });
  }
  // As deep as the data API takes a body: a record it could not be sent back (PUT) otherwise.
  if (nestingOf(data) > MAX_JSON_DEPTH) {
    throw new ApiError('invalid_body', {
      message: `The record data nests more than ${MAX_JSON_DEPTH} levels deep`,
      details: [{ field: '(data)', error: `Arrays and objects nest at most ${MAX_JSON_DEPTH} levels deep` }],
    });
  }
  const text = JSON.stringify(data);
  if (Buffer.byteLength(text) > version.maxBodyBytes) {
    throw new ApiError('payload_too_large', {
      message: `Payload too large: the endpoint's limit is ${version.maxBodyBytes} bytes`,
    });
  }
  if (!version.validate(data))
    throw new ApiError('validation_failed', { details: validationDetails(version.validate) });
  return text;
}

/** The deepest nesting of arrays and objects in `value` (an object alone is 1). */
function nestingOf(value: unknown): number {
  let deepest = 0;
  const pending: Array<[item: unknown, depth: number]> = [[value, 1]];
  while (pending.length > 0) {
    const [item, depth] = pending.pop() as [unknown, number];
    if (typeof item !== 'object' || item === null) continue;
    deepest = Math.max(deepest, depth);
    for (const child of Object.values(item)) pending.push([child, depth + 1]);
  }
  return deepest;
}

function isFilterValue(value: unknown): value is FilterValue {
  return (
    value === null ||
    typeof value === 'string' ||
    typeof value === 'boolean' ||
    (typeof value === 'number' && Number.isFinite(value))
  );
}

function isRedirect(status: unknown): boolean {
  return typeof status === 'number' && status >= 300 && status < 400;
}

/** JSONata's truthiness, roughly: nothing, false, 0, "" and empty arrays are false. */
function truthy(value: unknown): boolean {
  if (Array.isArray(value)) return value.some(truthy);
  return value !== undefined && value !== null && value !== false && value !== 0 && value !== '';
}

function failed(step: string, field: string, message: string): ApiError {
  return new ApiError('app_step_failed', {
    message: `Step "${step}" failed: ${message}`,
    details: [{ field: `steps.${step}.${field}`, error: message }],
  });
}

function budget(step: string, field: string, message: string): ApiError {
  return new ApiError('app_budget_exceeded', {
    message: `Step "${step}" exceeded its budget: ${message}`,
    details: [{ field: `steps.${step}.${field}`, error: message }],
  });
}

/** A data error keeps its code and status, and says which step it came from. */
function named(step: string, error: unknown): unknown {
  if (
    !(error instanceof ApiError) ||
    error.code === 'app_step_failed' ||
    error.code === 'app_budget_exceeded'
  )
    return error;
  return new ApiError(error.code, {
    message: `Step "${step}": ${error.message}`,
    details: error.details ?? [{ field: `steps.${step}`, error: error.message }],
    headers: error.headers,
  });
}
