import { stringifyJson } from '../api/exact-json.ts';
/**
 * The routes of an app definition as the editor sees them: JSON text checked as it is typed, a
 * summary for the read-only table, and the starter example (docs/apps.md). The server validates
 * everything else (endpoints, expressions, step order) and answers 400 `invalid_app`.
 */

export interface RouteSummary {
  key: string;
  method: string;
  path: string;
  auth: string;
  description: string | null;
  steps: { key: string; position: number; name: string; type: string; conditional: boolean }[];
}

export type RoutesCheck = { ok: true; routes: unknown[] } | { ok: false; problems: string[] };

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `at position 42` in a JSON.parse message, as a line and column of the text. */
function whereInText(text: string, message: string): string {
  const match = /position (\d+)/.exec(message);
  if (!match || / line \d+/.test(message)) return '';
  const before = text.slice(0, Number(match[1]));
  const lines = before.split('\n');
  return ` (line ${lines.length}, column ${(lines.at(-1)?.length ?? 0) + 1})`;
}

/** Parses the editor's text: a JSON array of route objects, each with a method, a path and steps. */
export function checkRoutesText(text: string): RoutesCheck {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return { ok: false, problems: [`Not valid JSON: ${message}${whereInText(text, message)}`] };
  }
  if (!Array.isArray(value)) return { ok: false, problems: ['The routes must be a JSON array: [ {…}, … ]'] };
  const problems: string[] = [];
  value.forEach((route, i) => {
    if (!isObject(route)) {
      problems.push(`routes[${i}] must be an object`);
      return;
    }
    if (typeof route.method !== 'string') problems.push(`routes[${i}].method is missing ("GET" or "POST")`);
    if (typeof route.path !== 'string') problems.push(`routes[${i}].path is missing (e.g. "/orders/:id")`);
    if (!Array.isArray(route.steps)) problems.push(`routes[${i}].steps must be an array of steps`);
  });
  return problems.length > 0 ? { ok: false, problems } : { ok: true, routes: value };
}

/** What each route does, for the summary table (fields the server would refuse are shown as given). */
export function summarizeRoutes(routes: unknown[]): RouteSummary[] {
  return routes.filter(isObject).map((route, i) => {
    const steps = Array.isArray(route.steps) ? route.steps.filter(isObject) : [];
    return {
      key: `${i}`,
      method: String(route.method ?? '?').toUpperCase(),
      path: typeof route.path === 'string' ? route.path : '',
      auth: typeof route.auth === 'string' ? route.auth : 'apiKey',
      description: typeof route.description === 'string' ? route.description : null,
      steps: steps.map((s, j) => ({
        key: `${j}:${String(s.name)}`,
        position: j + 1,
        name: String(s.name ?? '?'),
        type: String(s.type ?? '?'),
        conditional: s.when !== undefined,
      })),
    };
  });
}

/** The public URL of a route: `/api/v1/apps/shop` + `/orders/:order_id/status`. */
export function routeUrl(app: string, path: string): string {
  return `/api/v1/apps/${app || '{app}'}${path.startsWith('/') ? path : `/${path}`}`;
}

export const AUTH_LABELS: Record<string, string> = {
  apiKey: 'API key',
  jwt: 'Token (JWT)',
  public: 'Public',
};

/** The "order status by order_id" route of docs/apps.md, over the given endpoint. */
export function exampleRoutes(endpoint: string): unknown[] {
  return [
    {
      method: 'GET',
      path: '/orders/:order_id/status',
      auth: 'apiKey',
      description: 'Order status by order_id',
      steps: [
        {
          name: 'matches',
          type: 'find',
          endpoint,
          filter: { order_id: 'params.order_id' },
          limit: 1,
        },
        {
          name: 'missing',
          type: 'respond',
          when: '$count(matches) = 0',
          status: 404,
          body: "{ 'error': 'No order ' & params.order_id }",
        },
        {
          name: 'status',
          type: 'respond',
          body: "{ 'order_id': matches[0].data.order_id, 'amount': matches[0].data.amount, 'paid': matches[0].data.paid = true }",
        },
      ],
    },
  ];
}

export function routesText(routes: unknown[]): string {
  return stringifyJson(routes, 2);
}
