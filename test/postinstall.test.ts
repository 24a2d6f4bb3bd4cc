import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import Fastify from 'fastify';
import { DASHBOARD_CSP, registerDashboard } from '../src/dashboard/static.ts';

const SCRIPT = new URL('../scripts/postinstall.mjs', import.meta.url).pathname;

/** An install without the dev dependencies (`npm ci --omit=dev`, NODE_ENV=production). */
describe('installed without the dev dependencies', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-postinstall-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** The postinstall run as npm runs it (in the package's folder), with a stand-in `npm` that records calls. */
  function postinstall(cwd: string) {
    const bin = join(dir, 'bin');
    mkdirSync(bin, { recursive: true });
    writeFileSync(join(bin, 'npm'), `#!/bin/sh\necho "npm $*" >> "${join(dir, 'npm-calls')}"\n`, {
      mode: 0o755,
    });
    return spawnSync(process.execPath, [SCRIPT], {
      cwd,
      encoding: 'utf8',
      env: { ...process.env, PATH: `${bin}:${process.env.PATH}` },
    });
  }

  test('the install succeeds and says what it did not build, and why', () => {
    const root = join(dir, 'omitted');
    mkdirSync(join(root, 'node_modules', 'vite'), { recursive: true });
    writeFileSync(join(root, 'node_modules', 'vite', 'package.json'), '{}');
    const run = postinstall(root);
    assert.equal(run.status, 0, run.stderr);
    assert.equal(
      run.stderr.trim(),
      'gatehouse: not building the dashboard (web/dist) or the typed client: the dev dependencies (typescript) are not installed. ' +
        'The server runs without them; for the dashboard, install with them (npm ci), then drop them with npm prune --omit=dev.',
    );
    assert.equal(existsSync(join(dir, 'npm-calls')), false, 'nothing was built');
  });

  test('with them, it builds the dashboard, then the typed client', () => {
    const root = join(dir, 'full');
    for (const name of ['vite', 'typescript']) {
      mkdirSync(join(root, 'node_modules', name), { recursive: true });
      writeFileSync(join(root, 'node_modules', name, 'package.json'), '{}');
    }
    const run = postinstall(root);
    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.stderr, '');
    const calls = readFileSync(join(dir, 'npm-calls'), 'utf8');
    assert.equal(calls, 'npm run build:web\nnpm run build -w @gatehouse/client\n');
  });

  test('the server then answers / with what to do, under the dashboard security headers', async () => {
    const app = Fastify();
    registerDashboard(app, join(dir, 'no-dist'));
    const url = await app.listen({ host: '127.0.0.1', port: 0 });
    try {
      const res = await fetch(url);
      const body = await res.text();
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-type'), 'text/html; charset=utf-8');
      assert.equal(res.headers.get('content-security-policy'), DASHBOARD_CSP);
      assert.match(body, /The dashboard is not built: it was installed without the dev dependencies/);
      assert.match(body, /<code>npm ci<\/code> \(which builds it\) or <code>npm run build:web<\/code>/);
    } finally {
      await app.close();
    }
  });
});
