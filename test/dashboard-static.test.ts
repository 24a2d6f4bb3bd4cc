import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdtempSync, readdirSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { text } from 'node:stream/consumers';
import { after, before, describe, test } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { DASHBOARD_DIR, registerDashboard } from '../src/dashboard/static.ts';
import { startTestServer } from './helpers/server.ts';

/**
 * `npm run build:web` while a server runs (src/dashboard/static.ts): the rebuilt index.html and
 * the new hashed assets it names are served without a restart, and nothing outside web/dist is.
 * The server here serves a copy of the built dashboard that the test rebuilds by hand.
 */

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A GET with the path sent exactly as written (fetch would resolve `..` itself). */
function get(base: string, path: string, method = 'GET'): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${base}${path}`, { method }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.path = path;
    req.on('error', reject);
    req.end();
  });
}

const IMMUTABLE = 'public, max-age=31536000, immutable';

describe('a dashboard rebuilt while the server runs', () => {
  let dir: string;
  let dist: string;
  let app: FastifyInstance;
  let base: string;
  let oldScript: string;

  before(async () => {
    assert.ok(existsSync(join(DASHBOARD_DIR, 'index.html')), 'the dashboard is built (npm run build:web)');
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-dist-'));
    dist = join(dir, 'dist');
    cpSync(DASHBOARD_DIR, dist, { recursive: true });
    // Beside the served folder, never to be served.
    writeFileSync(join(dir, 'secret.txt'), 'not for the web');
    oldScript = readdirSync(join(dist, 'assets')).find((name) => name.endsWith('.js')) as string;
    app = Fastify();
    registerDashboard(app, dist);
    await app.listen({ port: 0, host: '127.0.0.1' });
    const address = app.server.address();
    base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  });
  after(async () => {
    await app.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('the new index.html and the new assets it names are served; the deleted ones are not', async () => {
    const before = await get(base, '/');
    assert.equal(before.status, 200);
    assert.ok(before.body.includes(`/assets/${oldScript}`));
    assert.equal((await get(base, `/assets/${oldScript}`)).status, 200);

    // What `vite build` does: empty the folder, write new hashed assets and an index.html naming them.
    const script = 'index-R3bu1LtA.js';
    const style = 'index-N3wStyl3.css';
    for (const name of readdirSync(join(dist, 'assets'))) unlinkSync(join(dist, 'assets', name));
    writeFileSync(join(dist, 'assets', script), 'console.log("rebuilt");\n');
    writeFileSync(join(dist, 'assets', style), 'body { color: black; }\n');
    const page = `<!doctype html><html><head><script type="module" src="/assets/${script}"></script><link rel="stylesheet" href="/assets/${style}"></head><body><div id="root"></div></body></html>`;
    writeFileSync(join(dist, 'index.html'), page);

    for (const path of ['/', '/index.html']) {
      const after = await get(base, path);
      assert.equal(after.status, 200, path);
      assert.equal(after.body, page, path);
      assert.equal(after.headers['cache-control'], 'no-cache', path);
      assert.match(String(after.headers['content-security-policy']), /script-src 'self'/);
    }
    const js = await get(base, `/assets/${script}`);
    assert.equal(js.status, 200);
    assert.equal(js.body, 'console.log("rebuilt");\n');
    assert.match(String(js.headers['content-type']), /javascript/);
    assert.equal(js.headers['cache-control'], IMMUTABLE);
    assert.equal(js.headers['x-content-type-options'], 'nosniff');
    const css = await get(base, `/assets/${style}`, 'HEAD');
    assert.equal(css.status, 200);
    assert.match(String(css.headers['content-type']), /text\/css/);
    assert.equal(css.headers['cache-control'], IMMUTABLE);
    // The asset the old page named is gone, and a 404.
    assert.equal((await get(base, `/assets/${oldScript}`)).status, 404);
  });

  test('nothing outside the assets folder, nor a dotfile in it, is served', async () => {
    writeFileSync(join(dist, 'assets', '.env'), 'SECRET=1');
    for (const path of [
      '/assets/../../secret.txt',
      '/assets/..%2f..%2fsecret.txt',
      '/assets/%2e%2e/%2e%2e/secret.txt',
      '/assets/..%5c..%5csecret.txt',
      '/assets/../index.html/../../secret.txt',
      '/assets/%2fetc%2fpasswd',
      '/assets//etc/passwd',
      '/assets/.env',
      '/assets/',
      '/secret.txt',
      '/../secret.txt',
    ]) {
      const res = await get(base, path);
      assert.equal(res.status, 404, `${path}: ${res.status} ${res.body.slice(0, 80)}`);
      assert.ok(!res.body.includes('not for the web') && !res.body.includes('SECRET'), path);
    }
  });

  test('unknown names list the folder again at most once a second', async () => {
    const started = performance.now();
    assert.equal((await get(base, '/assets/late-4ss3t.js')).status, 404);
    writeFileSync(join(dist, 'assets', 'late-4ss3t.js'), 'late');
    // A scanner's next names, right after: answered from the listing just read.
    for (let i = 0; i < 20; i++) assert.equal((await get(base, `/assets/probe-${i}.js`)).status, 404);
    const soon = await get(base, '/assets/late-4ss3t.js');
    if (performance.now() - started < 900) assert.equal(soon.status, 404, 'not listed again yet');
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const later = await get(base, '/assets/late-4ss3t.js');
    assert.equal(later.status, 200);
    assert.equal(later.body, 'late');
  });

  test('two new names asked for at once (pipelined) are both served: one waits for the listing the other began', async () => {
    writeFileSync(join(dist, 'assets', 'both-a.js'), 'a');
    writeFileSync(join(dist, 'assets', 'both-b.css'), 'b');
    // Past the last listing's second, so the first of the two lists the folder again.
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const socket = connect(Number(new URL(base).port), '127.0.0.1');
    socket.write(
      'GET /assets/both-a.js HTTP/1.1\r\nHost: x\r\n\r\n' +
        'GET /assets/both-b.css HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
    );
    const answers = await text(socket);
    assert.deepEqual(answers.match(/HTTP\/1\.1 \d+/g), ['HTTP/1.1 200', 'HTTP/1.1 200'], answers);
  });
});

describe('unknown assets in the whole app', () => {
  test('are the JSON 404 (any method), not a 405', async () => {
    const server = await startTestServer('sqlite');
    try {
      for (const method of ['GET', 'POST']) {
        const res = await server.request(method, '/assets/no-such-file.js');
        assert.equal(res.status, 404, method);
        assert.equal(res.body?.code, 'not_found', res.text);
      }
    } finally {
      await server.close();
    }
  });
});
