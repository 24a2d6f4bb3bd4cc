import { compileSchema, type RecordValidator } from '../endpoints/json-schema.ts';
import { ApiError, type ErrorDetail } from '../errors.ts';
import { FILTERABLE_FIELD } from '../infra/db/dialect.ts';
import { compileExpression, contextReads, type Expression, ExpressionError } from './expressions.ts';

export { endpointsNamedIn } from './named-endpoints.ts';

/**
 * An app definition (as stored and as sent to `/admin/v1/apps`) and its compiled form. Every
 * check that can be made without a request is made here, when the definition is saved: a
 * refused definition is a 400 `invalid_app` whose details name the route and the step.
 */

export type AuthMode = 'apiKey' | 'jwt' | 'public';
export type QueryType = 'string' | 'integer' | 'number' | 'boolean';
export type QueryValue = string | number | boolean;
export type Method = 'GET' | 'POST';

export interface QueryParamDefinition {
  name: string;
  type: QueryType;
  required?: boolean;
  default?: QueryValue;
  description?: string;
}

export interface RouteDefinition {
  method: Method;
  path: string;
  auth?: AuthMode;
  description?: string;
  query?: QueryParamDefinition[];
  body_schema?: Record<string, unknown>;
  steps: StepDefinition[];
}

export interface AppDefinition {
  routes: RouteDefinition[];
}

/** A step as sent: `name`, `type`, an optional `when` expression, and the type's own fields. */
export type StepDefinition = Record<string, unknown> & { name: string; type: string };

export const STEP_TYPES = [
  'find',
  'get',
  'create',
  'update',
  'delete',
  'transform',
  'respond',
  'redirect',
] as const;
export type StepType = (typeof STEP_TYPES)[number];

export const RANGE_OPERATORS = ['eq', 'gt', 'gte', 'lt', 'lte'] as const;
export type RangeOperator = (typeof RANGE_OPERATORS)[number];

export type PathSegment = { literal: string } | { param: string };

interface StepBase {
  name: string;
  when: Expression | undefined;
}

export type CompiledStep = StepBase &
  (
    | {
        type: 'find';
        endpoint: string;
        filters: Array<{ field: string; op: RangeOperator; value: Expression }>;
        order: { field: string; direction: 'asc' | 'desc' } | undefined;
        limit: number | Expression;
      }
    | { type: 'get'; endpoint: string; id: Expression; optional: boolean }
    | { type: 'create'; endpoint: string; data: Expression }
    | { type: 'update'; endpoint: string; id: Expression; data: Expression }
    | { type: 'delete'; endpoint: string; id: Expression }
    | { type: 'transform'; expression: Expression }
    | {
        type: 'respond';
        status: number | Expression;
        headers: Array<[name: string, value: Expression]>;
        body: Expression | undefined;
      }
    | { type: 'redirect'; url: Expression; status: number }
  );

export interface CompiledRoute {
  method: Method;
  path: string;
  segments: PathSegment[];
  auth: AuthMode;
  description: string | undefined;
  query: QueryParamDefinition[];
  bodySchema: Record<string, unknown> | undefined;
  validateBody: RecordValidator | undefined;
  steps: CompiledStep[];
  /** A step creates, updates or deletes a record: HEAD does not run the route (runtime.ts match). */
  writes: boolean;
}

export interface CompiledApp {
  slug: string;
  /** `null` for the draft. */
  version: number | null;
  routes: CompiledRoute[];
}

/** Names the pipeline context already uses; steps cannot take them. */
export const CONTEXT_NAMES = ['params', 'query', 'body', 'headers', 'environment'] as const;
/** `?environment=test` picks the draft of a public route called without credentials. */
export const RESERVED_QUERY = 'environment';

/** A parameter or step name: a key of the pipeline context, so never `__proto__` (it would not be kept). */
const NAME = /^(?!__proto__$)[A-Za-z_][A-Za-z0-9_]{0,63}$/;
const LITERAL_SEGMENT = /^[A-Za-z0-9._~-]{1,100}$/;
const HEADER_NAME = /^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,100}$/;
const FORBIDDEN_HEADERS = new Set([
  'content-length',
  'transfer-encoding',
  'connection',
  'keep-alive',
  'upgrade',
  'request-id',
  'set-cookie',
  // Node refuses to send a body of known length with it: the response failed as a bare 500.
  'trailer',
]);
export const REDIRECT_STATUSES = [301, 302, 303, 307, 308];
const MAX_ROUTES = 100;
const MAX_STEPS = 50;
const STEP_FIELDS: Record<StepType, readonly string[]> = {
  find: ['endpoint', 'filter', 'order', 'limit'],
  get: ['endpoint', 'id', 'optional'],
  create: ['endpoint', 'data'],
  update: ['endpoint', 'id', 'data'],
  delete: ['endpoint', 'id'],
  transform: ['expression'],
  respond: ['status', 'headers', 'body'],
  redirect: ['url', 'status'],
};

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** `/orders/:order_id` → segments; throws a message when the template is malformed. */
export function parsePathTemplate(path: string, stored = false): PathSegment[] {
  if (!path.startsWith('/')) throw new Error('Must start with "/"');
  const parts = path.slice(1).split('/');
  if (parts.length > 20) throw new Error('At most 20 segments');
  const seen = new Set<string>();
  return parts.map((part) => {
    if (part.startsWith(':')) {
      const name = part.slice(1);
      if (!NAME.test(name))
        throw new Error(`":${name}" is not a valid parameter name (letters, digits, _; not __proto__)`);
      if (seen.has(name)) throw new Error(`Parameter ":${name}" appears twice`);
      seen.add(name);
      return { param: name };
    }
    if (!LITERAL_SEGMENT.test(part)) {
      throw new Error(
        part === ''
          ? 'Empty segment (no "//" and no trailing "/")'
          : `Segment "${part}" may use only letters, digits and . _ ~ -`,
      );
    }
    // Clients resolve dot segments before sending (`/a/../b` is sent as `/b`): no call could reach
    // it. Refused when saved; a stored app that has one keeps its other routes answering.
    if (!stored && (part === '.' || part === '..'))
      throw new Error(`Segment "${part}" is resolved away by clients`);
    return { literal: part };
  });
}

/** The route's shape for duplicate checks: `GET /orders/:` equals `GET /orders/:id`. */
function routeShape(method: string, segments: PathSegment[]): string {
  return `${method} /${segments.map((s) => ('param' in s ? ':' : s.literal)).join('/')}`;
}

interface Problems {
  list: ErrorDetail[];
  add(field: string, error: string): void;
  /** A definition saved earlier (a deployed version, a draft): its expressions compile as then. */
  readonly stored: boolean;
}

/**
 * Validates a definition and compiles it. `endpointExists` says whether a data endpoint slug is
 * known; throws 400 `invalid_app` listing every problem found (up to 50).
 */
export function compileApp(
  slug: string,
  version: number | null,
  definition: unknown,
  endpointExists: (slug: string) => boolean,
  /** Problems found outside the routes (the request's other fields), reported with theirs. */
  otherProblems: readonly ErrorDetail[] = [],
  /** Saved earlier, not being saved now: see compileExpression's `stored`. */
  stored = false,
): CompiledApp {
  const problems: Problems = {
    stored,
    list: otherProblems.slice(0, 50),
    add(field, error) {
      if (this.list.length < 50) this.list.push({ field, error });
    },
  };
  const routes: CompiledRoute[] = [];
  if (!isObject(definition) || !Array.isArray(definition.routes)) {
    problems.add('routes', 'Must be an array of routes');
  } else if (definition.routes.length > MAX_ROUTES) {
    problems.add('routes', `At most ${MAX_ROUTES} routes`);
  } else {
    const shapes = new Map<string, string>();
    /** Each path shape's parameter names: one path, one set of names (OpenAPI lists it once). */
    const names = new Map<string, { path: string; where: string }>();
    definition.routes.forEach((raw, index) => {
      const route = compileRoute(raw, `routes[${index}]`, problems, endpointExists);
      if (!route) return;
      const shape = routeShape(route.method, route.segments);
      const pathShape = shape.slice(shape.indexOf(' ') + 1);
      const named = names.get(pathShape);
      const other = shapes.get(shape);
      if (named && named.path !== route.path && other === undefined) {
        problems.add(
          `routes[${index}] (${route.method} ${route.path})`,
          `Same path as ${named.where} with other parameter names: write it ${named.path}`,
        );
        return;
      }
      if (!named) names.set(pathShape, { path: route.path, where: `routes[${index}]` });
      if (other !== undefined) {
        problems.add(
          `routes[${index}] (${route.method} ${route.path})`,
          `Duplicate route: the same method and path as ${other}`,
        );
      } else {
        shapes.set(shape, `routes[${index}] (${route.method} ${route.path})`);
        routes.push(route);
      }
    });
  }
  if (problems.list.length > 0) {
    const first = problems.list[0] as ErrorDetail;
    throw new ApiError('invalid_app', {
      message: `Invalid app definition: ${first.field}: ${first.error}`,
      details: problems.list,
    });
  }
  return { slug, version, routes };
}

const ROUTE_FIELDS = new Set(['method', 'path', 'auth', 'description', 'query', 'body_schema', 'steps']);

function compileRoute(
  raw: unknown,
  at: string,
  problems: Problems,
  endpointExists: (slug: string) => boolean,
): CompiledRoute | undefined {
  if (!isObject(raw)) {
    problems.add(at, 'Must be an object');
    return undefined;
  }
  const method = raw.method;
  const path = typeof raw.path === 'string' ? raw.path : '';
  const where = `${at} (${String(method)} ${path})`;
  const before = problems.list.length;
  for (const key of Object.keys(raw))
    if (!ROUTE_FIELDS.has(key)) problems.add(`${where}.${key}`, 'Unknown field');
  if (method !== 'GET' && method !== 'POST') problems.add(`${where}.method`, 'Must be GET or POST');
  let segments: PathSegment[] = [];
  if (typeof raw.path !== 'string')
    problems.add(`${where}.path`, 'Required: a path template such as /orders/:id');
  else {
    try {
      segments = parsePathTemplate(raw.path, problems.stored);
    } catch (error) {
      problems.add(`${where}.path`, `Bad path template: ${(error as Error).message}`);
    }
  }
  const auth = raw.auth ?? 'apiKey';
  if (auth !== 'apiKey' && auth !== 'jwt' && auth !== 'public')
    problems.add(`${where}.auth`, 'Must be apiKey, jwt or public');
  if (raw.description !== undefined && (typeof raw.description !== 'string' || raw.description.length > 2000))
    problems.add(`${where}.description`, 'Must be a string of at most 2000 characters');
  const query = compileQuery(raw.query, where, problems);
  let validateBody: RecordValidator | undefined;
  let bodySchema: Record<string, unknown> | undefined;
  if (raw.body_schema !== undefined) {
    if (method !== 'POST') problems.add(`${where}.body_schema`, 'Only POST routes take a body');
    else {
      try {
        validateBody = compileSchema(raw.body_schema, `${where}.body_schema`, problems.stored);
        bodySchema = raw.body_schema as Record<string, unknown>;
      } catch (error) {
        const details = error instanceof ApiError ? (error.details ?? []) : [];
        for (const d of details) problems.add(d.field, `Invalid JSON Schema: ${d.error}`);
      }
    }
  }
  // What `params.x` and `query.x` may name: a typo would read nothing at run time, and a find
  // filter that reads nothing is left out (a status page would answer another order's).
  const declared = {
    params: new Set(segments.flatMap((s) => ('param' in s ? [s.param] : []))),
    query: new Set(query.map((q) => q.name)),
  };
  const steps = compileSteps(raw.steps, where, problems, endpointExists, declared);
  if (problems.list.length > before) return undefined;
  return {
    method: method as Method,
    path,
    segments,
    auth: auth as AuthMode,
    description: typeof raw.description === 'string' ? raw.description : undefined,
    query,
    bodySchema,
    validateBody,
    steps,
    writes: steps.some((step) => step.type === 'create' || step.type === 'update' || step.type === 'delete'),
  };
}

function compileQuery(raw: unknown, where: string, problems: Problems): QueryParamDefinition[] {
  if (raw === undefined) return [];
  if (!Array.isArray(raw) || raw.length > 50) {
    problems.add(`${where}.query`, 'Must be an array of at most 50 parameters');
    return [];
  }
  const out: QueryParamDefinition[] = [];
  const seen = new Set<string>();
  for (const [i, param] of raw.entries()) {
    const at = `${where}.query[${i}]`;
    if (!isObject(param)) {
      problems.add(at, 'Must be an object');
      continue;
    }
    for (const key of Object.keys(param)) {
      if (!['name', 'type', 'required', 'default', 'description'].includes(key))
        problems.add(`${at}.${key}`, 'Unknown field');
    }
    const { name, type, required, description } = param;
    if (typeof name !== 'string' || !NAME.test(name)) {
      problems.add(`${at}.name`, 'Must be a name of letters, digits and _ (not __proto__)');
      continue;
    }
    if (name === RESERVED_QUERY) {
      problems.add(`${at}.name`, '"environment" is reserved (it picks the environment of public routes)');
      continue;
    }
    if (seen.has(name)) {
      problems.add(`${at}.name`, `Query parameter "${name}" is declared twice`);
      continue;
    }
    seen.add(name);
    if (type !== 'string' && type !== 'integer' && type !== 'number' && type !== 'boolean') {
      problems.add(`${at}.type`, 'Must be string, integer, number or boolean');
      continue;
    }
    if (required !== undefined && typeof required !== 'boolean') {
      problems.add(`${at}.required`, 'Must be a boolean');
      continue;
    }
    if (description !== undefined && typeof description !== 'string') {
      problems.add(`${at}.description`, 'Must be a string');
      continue;
    }
    const def = param.default;
    if (def !== undefined) {
      if (required === true) {
        problems.add(`${at}.default`, 'A required parameter has no default');
        continue;
      }
      const ok =
        type === 'string'
          ? typeof def === 'string'
          : type === 'boolean'
            ? typeof def === 'boolean'
            : typeof def === 'number' && Number.isFinite(def) && (type === 'number' || Number.isInteger(def));
      if (!ok) {
        problems.add(`${at}.default`, `Must be of type ${type}`);
        continue;
      }
    }
    out.push({
      name,
      type,
      ...(required === true ? { required: true } : {}),
      ...(def !== undefined ? { default: def as QueryValue } : {}),
      ...(typeof description === 'string' ? { description } : {}),
    });
  }
  return out;
}

/** The path parameters and query parameters a route declares, which `params.x` and `query.x` read. */
interface Declared {
  params: ReadonlySet<string>;
  query: ReadonlySet<string>;
}

/** `:order_id, :item`, or `no parameters`. */
function pathParams(names: ReadonlySet<string>): string {
  return names.size === 0 ? 'no parameters' : [...names].map((n) => `:${n}`).join(', ');
}

function compileSteps(
  raw: unknown,
  where: string,
  problems: Problems,
  endpointExists: (slug: string) => boolean,
  declared: Declared,
): CompiledStep[] {
  if (!Array.isArray(raw) || raw.length === 0 || raw.length > MAX_STEPS) {
    problems.add(`${where}.steps`, `Must be an array of 1 to ${MAX_STEPS} steps`);
    return [];
  }
  const allNames = new Set(raw.flatMap((s) => (isObject(s) && typeof s.name === 'string' ? [s.name] : [])));
  const known = new Set<string>(CONTEXT_NAMES);
  const out: CompiledStep[] = [];
  raw.forEach((step, i) => {
    const at =
      isObject(step) && typeof step.name === 'string'
        ? `${where}.steps[${i}] ("${step.name}")`
        : `${where}.steps[${i}]`;
    const compiled = compileStep(step, at, problems, { known, allNames, declared }, endpointExists);
    if (isObject(step) && typeof step.name === 'string' && NAME.test(step.name)) {
      if (known.has(step.name)) {
        problems.add(
          `${at}.name`,
          (CONTEXT_NAMES as readonly string[]).includes(step.name)
            ? `"${step.name}" is reserved for the context`
            : `Duplicate step name "${step.name}"`,
        );
      }
      known.add(step.name);
    }
    if (compiled) {
      const ends = compiled.type === 'respond' || compiled.type === 'redirect';
      if (ends && !compiled.when && i < raw.length - 1)
        problems.add(at, `A ${compiled.type} step without "when" must be the last step`);
      out.push(compiled);
    }
  });
  return out;
}

function compileStep(
  step: unknown,
  at: string,
  problems: Problems,
  names: { known: ReadonlySet<string>; allNames: ReadonlySet<string>; declared: Declared },
  endpointExists: (slug: string) => boolean,
): CompiledStep | undefined {
  const { known, allNames, declared } = names;
  if (!isObject(step)) {
    problems.add(at, 'Must be an object');
    return undefined;
  }
  const before = problems.list.length;
  const { name, type } = step;
  if (typeof name !== 'string' || !NAME.test(name))
    problems.add(`${at}.name`, 'Required: a name of letters, digits and _ (at most 64; not __proto__)');
  if (typeof type !== 'string' || !(STEP_TYPES as readonly string[]).includes(type)) {
    problems.add(`${at}.type`, `Must be one of ${STEP_TYPES.join(', ')}`);
    return undefined;
  }
  const stepType = type as StepType;
  const allowed = new Set(['name', 'type', 'when', ...STEP_FIELDS[stepType]]);
  for (const key of Object.keys(step)) if (!allowed.has(key)) problems.add(`${at}.${key}`, 'Unknown field');

  /** Compiles an expression field and checks the names it reads exist earlier in the pipeline. */
  const expr = (field: string, value: unknown, required = true): Expression | undefined => {
    if (value === undefined) {
      if (required) problems.add(`${at}.${field}`, 'Required: a JSONata expression');
      return undefined;
    }
    if (typeof value !== 'string' || value.trim() === '') {
      problems.add(`${at}.${field}`, 'Must be a JSONata expression (a string; quote literals: "\'text\'")');
      return undefined;
    }
    let compiled: Expression;
    try {
      compiled = compileExpression(value, problems.stored);
    } catch (error) {
      problems.add(`${at}.${field}`, error instanceof ExpressionError ? error.message : String(error));
      return undefined;
    }
    // Checked when the definition was saved; a stored one is not held to names checked since
    // (`x ~> $f()`), so that a deployed version keeps answering.
    const reads = problems.stored ? { names: [], members: [] } : contextReads(value);
    for (const [root, member] of reads.members) {
      if (root === 'params' && !declared.params.has(member))
        problems.add(
          `${at}.${field}`,
          `Reads params.${member}, but the path has ${pathParams(declared.params)}`,
        );
      if (root === 'query' && !declared.query.has(member))
        problems.add(`${at}.${field}`, `Reads query.${member}, which the route does not declare in "query"`);
    }
    for (const ref of reads.names) {
      if (known.has(ref)) continue;
      problems.add(
        `${at}.${field}`,
        ref === name
          ? `Refers to its own step "${ref}"`
          : allNames.has(ref)
            ? `Refers to step "${ref}", which runs later`
            : `Refers to "${ref}", which is neither a step before this one nor one of ${CONTEXT_NAMES.join(', ')}`,
      );
    }
    return compiled;
  };
  const endpoint = (): string => {
    const slug = step.endpoint;
    if (typeof slug !== 'string' || slug === '')
      problems.add(`${at}.endpoint`, 'Required: a data endpoint slug');
    else if (!endpointExists(slug)) problems.add(`${at}.endpoint`, `Unknown endpoint "${slug}"`);
    return typeof slug === 'string' ? slug : '';
  };

  const when = expr('when', step.when, false);
  let compiled: CompiledStep | undefined;
  const base = { name: name as string, when };
  switch (stepType) {
    case 'find': {
      const ep = endpoint();
      const filters: Array<{ field: string; op: RangeOperator; value: Expression }> = [];
      if (step.filter !== undefined) {
        if (!isObject(step.filter)) problems.add(`${at}.filter`, 'Must be an object of field → expression');
        else {
          const entries = Object.entries(step.filter);
          if (entries.length > 20) problems.add(`${at}.filter`, 'At most 20 fields');
          for (const [field, condition] of entries) {
            if (!FILTERABLE_FIELD.test(field)) {
              problems.add(
                `${at}.filter.${field}`,
                'Filters apply to top-level field names of 1 to 64 characters, without ", \\ or control characters',
              );
              continue;
            }
            if (typeof condition === 'string') {
              const value = expr(`filter.${field}`, condition);
              if (value) filters.push({ field, op: 'eq', value });
            } else if (isObject(condition) && Object.keys(condition).length > 0) {
              for (const [op, source] of Object.entries(condition)) {
                if (!(RANGE_OPERATORS as readonly string[]).includes(op)) {
                  problems.add(
                    `${at}.filter.${field}.${op}`,
                    `Unknown operator (use ${RANGE_OPERATORS.join(', ')})`,
                  );
                  continue;
                }
                const value = expr(`filter.${field}.${op}`, source);
                if (value) filters.push({ field, op: op as RangeOperator, value });
              }
            } else {
              problems.add(`${at}.filter.${field}`, 'Must be an expression or an object of eq/gt/gte/lt/lte');
            }
          }
        }
      }
      let order: { field: string; direction: 'asc' | 'desc' } | undefined;
      if (step.order !== undefined) {
        const o = step.order;
        if (!isObject(o) || typeof o.field !== 'string' || !FILTERABLE_FIELD.test(o.field)) {
          problems.add(`${at}.order`, 'Must be {"field": "<top-level field>", "direction": "asc"|"desc"}');
        } else if (o.direction !== undefined && o.direction !== 'asc' && o.direction !== 'desc') {
          problems.add(`${at}.order.direction`, 'Must be asc or desc');
        } else {
          order = { field: o.field, direction: (o.direction as 'asc' | 'desc' | undefined) ?? 'asc' };
        }
      }
      let limit: number | Expression = 25;
      if (typeof step.limit === 'number') {
        if (!Number.isInteger(step.limit) || step.limit < 1 || step.limit > 100)
          problems.add(`${at}.limit`, 'Must be an integer from 1 to 100 (or an expression)');
        else limit = step.limit;
      } else if (step.limit !== undefined) limit = expr('limit', step.limit) ?? 25;
      compiled = { ...base, type: 'find', endpoint: ep, filters, order, limit };
      break;
    }
    case 'get': {
      const ep = endpoint();
      const id = expr('id', step.id);
      if (step.optional !== undefined && typeof step.optional !== 'boolean')
        problems.add(`${at}.optional`, 'Must be a boolean');
      if (id) compiled = { ...base, type: 'get', endpoint: ep, id, optional: step.optional === true };
      break;
    }
    case 'create': {
      const ep = endpoint();
      const data = expr('data', step.data);
      if (data) compiled = { ...base, type: 'create', endpoint: ep, data };
      break;
    }
    case 'update': {
      const ep = endpoint();
      const id = expr('id', step.id);
      const data = expr('data', step.data);
      if (id && data) compiled = { ...base, type: 'update', endpoint: ep, id, data };
      break;
    }
    case 'delete': {
      const ep = endpoint();
      const id = expr('id', step.id);
      if (id) compiled = { ...base, type: 'delete', endpoint: ep, id };
      break;
    }
    case 'transform': {
      const expression = expr('expression', step.expression);
      if (expression) compiled = { ...base, type: 'transform', expression };
      break;
    }
    case 'respond': {
      let status: number | Expression = 200;
      if (typeof step.status === 'number') {
        if (!Number.isInteger(step.status) || step.status < 200 || step.status > 599)
          problems.add(`${at}.status`, 'Must be an integer from 200 to 599 (or an expression)');
        else if (step.status >= 300 && step.status < 400)
          problems.add(`${at}.status`, 'Use a redirect step for 3xx');
        else status = step.status;
      } else if (step.status !== undefined) status = expr('status', step.status) ?? 200;
      const headers: Array<[string, Expression]> = [];
      if (step.headers !== undefined) {
        if (!isObject(step.headers))
          problems.add(`${at}.headers`, 'Must be an object of header → expression');
        else {
          for (const [header, source] of Object.entries(step.headers)) {
            const lower = header.toLowerCase();
            if (!HEADER_NAME.test(header)) problems.add(`${at}.headers.${header}`, 'Not a valid header name');
            else if (
              FORBIDDEN_HEADERS.has(lower) ||
              lower.startsWith('ratelimit') ||
              lower.startsWith('x-ratelimit')
            ) {
              // A stored definition may name one added to the list since: it is left out, so that
              // the app's other routes keep answering.
              if (!problems.stored)
                problems.add(
                  `${at}.headers.${header}`,
                  'This header is set by Gatehouse and cannot be set here',
                );
            } else {
              const value = expr(`headers.${header}`, source);
              if (value) headers.push([lower, value]);
            }
          }
        }
      }
      const body = expr('body', step.body, false);
      compiled = { ...base, type: 'respond', status, headers, body };
      break;
    }
    case 'redirect': {
      const url = expr('url', step.url);
      let status = 302;
      if (step.status !== undefined) {
        if (typeof step.status !== 'number' || !REDIRECT_STATUSES.includes(step.status))
          problems.add(`${at}.status`, `Must be one of ${REDIRECT_STATUSES.join(', ')} (302 by default)`);
        else status = step.status;
      }
      if (url) compiled = { ...base, type: 'redirect', url, status };
      break;
    }
  }
  return problems.list.length > before ? undefined : compiled;
}
