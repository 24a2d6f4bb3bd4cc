import { createHash } from 'node:crypto';
import scalar from '@scalar/fastify-api-reference';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AppService } from '../apps/app-service.ts';
import type { EndpointService } from '../endpoints/endpoint-service.ts';
import { NO_STORE } from '../http/auth.ts';
import type { InvalidationBus } from '../infra/bus/bus.ts';
import { type AuthenticatedKey, hasScope } from '../keys/key-service.ts';
import { adminApiDocument, type RouteEntry } from './openapi-admin.ts';
import { dataApiDocument } from './openapi-data.ts';

function baseUrl(request: FastifyRequest): string {
  return `${request.protocol}://${request.host}`;
}

/**
 * At most this many documents are kept. The base URL comes from the caller's Host header, so
 * without a bound anyone could fill the memory by sending many made-up hosts to the public
 * `/docs/openapi.json`; a real installation answers under a handful of names.
 */
export const OPENAPI_CACHE_SIZE = 16;

/**
 * Generated documents are cached per environment and base URL until an endpoint or app changes;
 * the least recently used one goes when the cache is full.
 */
export function openApiCache(endpoints: EndpointService, bus: InvalidationBus, apps?: AppService) {
  const cache = new Map<string, Promise<Record<string, unknown>>>();
  bus.subscribe('endpoints', () => cache.clear());
  bus.subscribe('apps', () => cache.clear());
  const document = (environment: 'test' | 'live', url: string) => {
    const key = `${environment} ${url}`;
    let doc = cache.get(key);
    if (doc) {
      // Most recently used last: a Map iterates in insertion order.
      cache.delete(key);
      cache.set(key, doc);
      return doc;
    }
    doc = dataApiDocument(endpoints, environment, url, apps);
    cache.set(key, doc);
    const made = doc;
    doc.catch(() => {
      if (cache.get(key) === made) cache.delete(key);
    });
    while (cache.size > OPENAPI_CACHE_SIZE) cache.delete(cache.keys().next().value as string);
    return doc;
  };
  /** How many documents are cached (for tests). */
  document.size = () => cache.size;
  return document;
}

const READS = new Set(['get']);
const DATA_PATH = /^\/api\/v1\/data\/([^/]+)(?:\/\{record_id\})?$/;

const APP_PATH = /^\/api\/v1\/apps\/([^/]+)\//;

/**
 * The document as `key` may use it: of the data endpoints, only the operations its scopes allow
 * (reads with `read`, writes with `write`); of the App APIs, public routes and those of apps its
 * scopes name; the rest (account, tokens) as they are. Schemas no operation left refers to go too.
 */
export function forKey(doc: Record<string, unknown>, key: AuthenticatedKey): Record<string, unknown> {
  if (key.scopes.has('*')) return doc;
  const paths: Record<string, unknown> = {};
  for (const [path, item] of Object.entries(doc.paths as Record<string, Record<string, unknown>>)) {
    const slug = DATA_PATH.exec(path)?.[1];
    const app = APP_PATH.exec(path)?.[1];
    const allowed = Object.fromEntries(
      Object.entries(item).filter(([method, operation]) =>
        slug !== undefined
          ? hasScope(key, slug, READS.has(method) ? 'read' : 'write')
          : app !== undefined
            ? isPublic(operation) || key.scopes.has(`apps:${app}`)
            : true,
      ),
    );
    if (Object.keys(allowed).length > 0) paths[path] = allowed;
  }
  return withReachableSchemas({ ...doc, paths });
}

/** An operation that takes no credentials (`security: []`), such as a public App route. */
function isPublic(operation: unknown): boolean {
  const security = (operation as { security?: unknown } | null)?.security;
  return Array.isArray(security) && security.length === 0;
}

/** The document without the component schemas nothing left in it refers to. */
function withReachableSchemas(doc: Record<string, unknown>): Record<string, unknown> {
  const components = doc.components as { schemas?: Record<string, unknown> } | undefined;
  const schemas = components?.schemas;
  if (!schemas) return doc;
  const reached = new Set<string>();
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) {
      for (const item of node) visit(item);
      return;
    }
    if (typeof node !== 'object' || node === null) return;
    for (const [field, value] of Object.entries(node)) {
      if (field === '$ref' && typeof value === 'string' && value.startsWith('#/components/schemas/')) {
        const name = value.slice('#/components/schemas/'.length);
        if (!reached.has(name)) {
          reached.add(name);
          visit(schemas[name]);
        }
      } else visit(value);
    }
  };
  const { components: _all, ...rest } = doc;
  visit(rest);
  visit({ ...components, schemas: undefined });
  const kept = Object.fromEntries(Object.entries(schemas).filter(([name]) => reached.has(name)));
  return { ...doc, components: { ...components, schemas: kept } };
}

/**
 * `GET /api/v1/openapi.json`: the caller's environment, and only the data operations its scopes
 * allow. Registered inside the API-key scope.
 */
export function registerDataApiDocument(
  api: FastifyInstance,
  document: ReturnType<typeof openApiCache>,
): void {
  api.get('/api/v1/openapi.json', async (request) =>
    forKey(await document(request.apiKey.environment, baseUrl(request)), request.apiKey),
  );
}

/** Collects every route as it is registered, for the management API's document. */
export function collectRoutes(app: FastifyInstance): RouteEntry[] {
  const routes: RouteEntry[] = [];
  app.addHook('onRoute', (route) => {
    const query = route.config?.query;
    for (const method of [route.method].flat()) routes.push({ method, url: route.url, query });
  });
  return routes;
}

export function registerAdminApiDocument(admin: FastifyInstance, routes: RouteEntry[]): void {
  admin.get('/admin/v1/openapi.json', async (request) => adminApiDocument(routes, baseUrl(request)));
}

/**
 * `/docs`: interactive reference (Scalar) over the sandbox document, with a server switch, a
 * place to paste a test key for try-it-out, and code samples. The document is public: it holds
 * the test schemas partners integrate against, never data. GATEHOUSE_PUBLIC_DOCS=false hides it.
 */
export async function registerDocsPage(
  app: FastifyInstance,
  document: ReturnType<typeof openApiCache>,
): Promise<void> {
  await app.register(async (docs) => {
    // Same origin as the dashboard: the page may not be framed, and runs only its own scripts.
    docs.addHook('onSend', async (request, reply, payload) => {
      reply.header('x-frame-options', 'DENY');
      reply.header('x-content-type-options', 'nosniff');
      reply.header('referrer-policy', 'no-referrer');
      if (typeof payload === 'string' && String(reply.getHeader('content-type')).startsWith('text/html')) {
        const html = withFallback(payload, await document('test', baseUrl(request)));
        reply.header('content-security-policy', docsPolicy(html));
        return html;
      }
      return payload;
    });
    // Its server URL is the caller's Host: a cache in front must not hand one caller's to another.
    docs.get('/docs/openapi.json', async (request, reply) => {
      reply.header('cache-control', NO_STORE);
      return document('test', baseUrl(request));
    });
    await docs.register(scalar as unknown as Parameters<FastifyInstance['register']>[0], {
      routePrefix: '/docs',
      configuration: {
        url: '/docs/openapi.json',
        title: 'Gatehouse API reference',
        metaData: { title: 'Gatehouse API reference' },
        authentication: { preferredSecurityScheme: 'bearer' },
        // Self-hosted: no fonts from Scalar's CDN (system fonts instead), and none of Scalar's
        // hosted services (its AI agent, MCP generation, sharing and deploying the document, and
        // the "Open API Client" button, which opened client.scalar.com with this document's URL:
        // try-it-out runs in the page itself).
        // showDeveloperTools is the toolbar's current name (showToolbar logs a deprecation).
        withDefaultFonts: false,
        agent: { disabled: true },
        mcp: { disabled: true },
        showDeveloperTools: 'never',
        hideClientButton: true,
        // An empty icon, as the dashboard's: else the browser asks for /favicon.ico, a 404.
        favicon: 'data:,',
      },
    });
  });
}

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' };
const escapeHtml = (text: string) => text.replace(/[&<>"]/g, (c) => HTML_ESCAPES[c] as string);
const OPERATIONS = ['get', 'put', 'post', 'delete', 'patch', 'head'] as const;

/**
 * Scalar's page as it comes, titled as the reference (its own title is set by its script), and
 * for a browser without JavaScript a plain list of the document's operations and a link to the
 * document itself, in place of an empty page.
 */
function withFallback(html: string, doc: Record<string, unknown>): string {
  const paths = (doc.paths ?? {}) as Record<string, Record<string, { summary?: string }>>;
  const rows = Object.entries(paths).flatMap(([path, item]) =>
    OPERATIONS.filter((method) => item[method]).map(
      (method) =>
        `<li><code>${method.toUpperCase()} ${escapeHtml(path)}</code> ${escapeHtml(item[method]?.summary ?? '')}</li>`,
    ),
  );
  const fallback =
    '<noscript><main><h1>Gatehouse API reference</h1>' +
    '<p>The interactive reference needs JavaScript. The OpenAPI document it shows is ' +
    '<a href="/docs/openapi.json">/docs/openapi.json</a>; its operations:</p>' +
    `<ul>${rows.join('')}</ul></main></noscript>`;
  return (
    html
      .replace(/<title>[^<]*<\/title>/, '<title>Gatehouse API reference</title>')
      // A function, not a string: the names in it may hold $&, $` or $', which a replacement string reads.
      .replace('<div id="app"></div>', () => `<div id="app"></div>${fallback}`)
  );
}

/**
 * The reference page's Content-Security-Policy: scripts from this origin and the page's own
 * inline script (by its hash), nothing framed, no plugins. Try-it-out may call any http(s) server.
 */
function docsPolicy(html: string): string {
  const inline = [...html.matchAll(/<script(?![^>]*\bsrc=)[^>]*>([\s\S]*?)<\/script>/g)].map(
    (m) =>
      `'sha256-${createHash('sha256')
        .update(m[1] ?? '')
        .digest('base64')}'`,
  );
  return [
    "default-src 'self'",
    `script-src 'self' ${inline.join(' ')}`.trim(),
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "font-src 'self' data:",
    "connect-src 'self' http: https:",
    "worker-src 'self' blob:",
    "frame-ancestors 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "object-src 'none'",
  ].join('; ');
}
