import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { openBrowser } from './helpers/dashboard-browser.ts';

const dist = mkdtempSync(join(tmpdir(), 'gatehouse-client-browser-'));
let server: Server;
let origin = '';

/**
 * A runtime whose fetch refuses any `this` but the global object, as browsers and Cloudflare
 * Workers do: Chromium runs the compiled client (node:crypto mapped to the Web Crypto API,
 * which a worker's Node compatibility provides), against a stub answering on its own origin.
 */
before(async () => {
  await promisify(execFile)(process.execPath, [
    join(process.cwd(), 'node_modules/typescript/bin/tsc'),
    '-p',
    join(process.cwd(), 'packages/client/tsconfig.build.json'),
    '--outDir',
    dist,
  ]);
  const js = { 'content-type': 'text/javascript' };
  server = createServer((req, res) => {
    const url = req.url ?? '/';
    if (url === '/')
      res
        .writeHead(200, { 'content-type': 'text/html' })
        .end('<script type="importmap">{"imports":{"node:crypto":"/crypto.js"}}</script>');
    else if (url === '/crypto.js')
      res.writeHead(200, js).end('export const randomUUID = () => crypto.randomUUID();');
    else if (/^\/dist\/[a-z-]+\.js$/.test(url))
      res.writeHead(200, js).end(readFileSync(join(dist, url.slice(6))));
    else if (url === '/api/v1/account')
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end('{"success":true,"data":{"name":"browser"}}');
    else res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const address = server.address();
  origin = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
});
after(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  rmSync(dist, { recursive: true, force: true });
});

test("the client calls fetch as a plain function: a browser's fetch (given or global) answers, a path on the page's origin too", async () => {
  const browser = await openBrowser(origin);
  try {
    await browser.page.goto(`${origin}/`);
    // Before: both were ConnectionError "Gatehouse unreachable: Failed to execute 'fetch' on
    // 'Window': Illegal invocation", after the retries.
    const answers = await browser.page.evaluate(async () => {
      const page = globalThis as unknown as { location: { origin: string }; fetch: typeof fetch };
      const { Gatehouse } = await import(`${page.location.origin}/dist/client.js`);
      const out: string[] = [];
      // The page's own origin given whole, or as a path on it (as behind the page's own proxy).
      const calls: Array<[string, typeof fetch | undefined]> = [
        [page.location.origin, undefined],
        [page.location.origin, page.fetch],
        ['/', undefined],
      ];
      for (const [baseUrl, given] of calls) {
        const gh = new Gatehouse({ apiKey: 'gk_test_x', baseUrl, fetch: given, maxRetries: 0 });
        out.push(
          await gh.account().then(
            (account: { name: string }) => account.name,
            (e: Error) => `${e.name}: ${e.message}`,
          ),
        );
      }
      return out;
    });
    assert.deepEqual(answers, ['browser', 'browser', 'browser']);
  } finally {
    await browser.close();
  }
});
