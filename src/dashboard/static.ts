import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
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
<body><h1>Gatehouse</h1><p>The dashboard is not built: it was installed without the dev dependencies (<code>npm ci --omit=dev</code>), or not built yet. Run <code>npm ci</code> (which builds it) or <code>npm run build:web</code>, and restart.
The API is at <code>/api/v1</code>, the management API at <code>/admin/v1</code>, the reference at <a href="/docs">/docs</a>.</p></body></html>`;

/**
 * Serves web/dist at `/` (each built file is a route, so unknown paths keep the JSON 404). Files
 * are read from disk on every request, so a rebuilt index.html (`npm run build:web` while the
 * server runs) is served at once, and a deleted asset is a 404; the hashed assets a rebuild adds
 * are found by `rebuiltAssets` below.
 */
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
  const assets = rebuiltAssets(join(root, 'assets'));
  // Only names the routes above did not know at start reach this (a static route wins over `*`).
  app.get('/assets/*', async (request, reply) => {
    const name = (request.params as { '*': string })['*'];
    if (!(await assets.has(name))) return reply.callNotFound();
    return reply.sendFile(`assets/${name}`);
  });
}

/** How often, at most, an unknown asset name makes the server list web/dist/assets again. */
const RELIST_MS = 1_000;

/**
 * The files in the assets folder now, as far as a request for a name the server has not seen
 * needs: the folder is listed again at most once a second, however many unknown names are asked
 * for (a scanner costs one readdir a second, not a lookup per name), and only a plain file's
 * exact name in that listing is served, so no path (`..`, `/`, an encoded one) can leave it.
 */
function rebuiltAssets(dir: string): { has(name: string): Promise<boolean> } {
  let listing: Promise<ReadonlySet<string>> = Promise.resolve(new Set());
  let listedAt = Number.NEGATIVE_INFINITY;
  const list = () =>
    readdir(dir, { withFileTypes: true }).then(
      (entries) => new Set(entries.filter((e) => e.isFile() && !e.name.startsWith('.')).map((e) => e.name)),
      () => new Set<string>(),
    );
  return {
    async has(name) {
      const seen = listing;
      if ((await seen).has(name)) return true;
      // Another request began a listing while this one waited (two asked for at once): it is
      // newer than this request, so its answer is the one to take, not the older listing's.
      if (listing !== seen) return (await listing).has(name);
      if (performance.now() - listedAt < RELIST_MS) return false;
      listedAt = performance.now();
      listing = list();
      return (await listing).has(name);
    },
  };
}
