import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply } from 'fastify';

/** Where `npm run build:web` puts the dashboard. */
export const DASHBOARD_DIR = join(dirname(fileURLToPath(import.meta.url)), '../../web/dist');

/**
 * The dashboard's pages and assets: scripts only from this origin (no inline script), no
 * framing, no referrer, no sniffing. Styles allow inline `style` attributes, which the
 * component library sets at run time.
 */
export const DASHBOARD_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

export function setSecurityHeaders(reply: { header(name: string, value: string): unknown }): void {
  reply.header('content-security-policy', DASHBOARD_CSP);
  reply.header('x-content-type-options', 'nosniff');
  reply.header('x-frame-options', 'DENY');
  reply.header('referrer-policy', 'no-referrer');
  reply.header('cross-origin-opener-policy', 'same-origin');
}

const NOT_BUILT = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Gatehouse</title></head>
<body><h1>Gatehouse</h1><p>The dashboard is not built. Run <code>npm run build:web</code> and restart.
The API is at <code>/api/v1</code>, the management API at <code>/admin/v1</code>, the reference at <a href="/docs">/docs</a>.</p></body></html>`;

/** Serves web/dist at `/` (each built file is a route, so unknown paths keep the JSON 404). */
export function registerDashboard(app: FastifyInstance, root = DASHBOARD_DIR): void {
  if (!existsSync(join(root, 'index.html'))) {
    app.get('/', async (_request, reply: FastifyReply) => {
      setSecurityHeaders(reply);
      return reply.type('text/html; charset=utf-8').send(NOT_BUILT);
    });
    return;
  }
  app.register(fastifyStatic, {
    root,
    prefix: '/',
    wildcard: false,
    index: ['index.html'],
    setHeaders(reply, path) {
      setSecurityHeaders(reply);
      // Built assets carry a content hash in their names; the page itself is always revalidated.
      reply.header(
        'cache-control',
        path.includes('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache',
      );
    },
  });
}
