import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { databaseKinds } from './helpers/database.ts';
import { startTestServer, type TestServer } from './helpers/server.ts';

/** A public GET route answering `body` with these headers (values are JSONata strings). */
const page = (path: string, headers: Record<string, string>, body = "'<p>hi</p>'") => ({
  method: 'GET',
  path,
  auth: 'public',
  steps: [{ name: 'out', type: 'respond', headers, body }],
});
const literal = (text: string) => JSON.stringify(text);
const html = { 'content-type': literal('text/html; charset=utf-8') };

/** The sandbox tokens each policy of a header gives the page: what a browser reads of it. */
function sandboxes(header: string): Array<string[] | null> {
  return header.split(',').map((policy) => {
    const directive = policy
      .split(';')
      .map((d) => d.trim().split(/\s+/))
      .find(([name]) => name?.toLowerCase() === 'sandbox');
    return directive ? directive.slice(1).map((token) => token.toLowerCase()) : null;
  });
}

for (const kind of databaseKinds) {
  describe(`App answers a browser may render are sandboxed (${kind})`, () => {
    let server: TestServer;
    const get = async (path: string) => {
      const res = await server.request('GET', `/api/v1/apps/pages${path}?environment=test`);
      assert.equal(res.status, 200, `${path}: ${res.text}`);
      return res;
    };

    before(async () => {
      server = await startTestServer(kind);
      const res = await server.admin('POST', '/admin/v1/apps', {
        slug: 'pages',
        name: 'Pages',
        routes: [
          page('/plain', html),
          page('/own', { ...html, 'content-security-policy': literal("default-src 'self'") }),
          page('/loose', {
            ...html,
            'content-security-policy': literal('sandbox allow-scripts allow-same-origin'),
          }),
          page('/top', {
            'content-type': literal('text/plain'),
            'content-security-policy': literal(
              "default-src 'none'; SANDBOX Allow-Scripts allow-top-navigation allow-popups-to-escape-sandbox allow-forms",
            ),
          }),
          page('/several', {
            ...html,
            'content-security-policy': literal(
              "default-src 'none', img-src *; sandbox allow-scripts allow-forms, sandbox allow-same-origin allow-scripts allow-modals",
            ),
          }),
          page('/json', { 'content-security-policy': literal("default-src 'none'") }, "{'a': 1}"),
          page(
            '/typed-json',
            {
              'content-type': literal('application/json'),
              'content-security-policy': literal('sandbox allow-same-origin'),
            },
            "{'a': 1}",
          ),
          {
            method: 'GET',
            path: '/data',
            auth: 'public',
            steps: [{ name: 'a', type: 'transform', expression: '1' }],
          },
        ],
      });
      assert.equal(res.status, 201, res.text);
    });
    after(async () => {
      await server.close();
    });

    test('a page without a policy of its own gets a bare sandbox', async () => {
      assert.equal((await get('/plain')).headers.get('content-security-policy'), 'sandbox');
    });

    test("a route's own policy is kept, and a sandbox policy follows it", async () => {
      const res = await get('/own');
      assert.equal(res.headers.get('content-security-policy'), "default-src 'self', sandbox");
      assert.equal(res.text, '<p>hi</p>');
    });

    test('allow-same-origin and the tokens that reach past the page are taken out of every sandbox', async () => {
      assert.equal(
        (await get('/loose')).headers.get('content-security-policy'),
        'sandbox allow-scripts, sandbox allow-scripts',
      );
      assert.equal(
        (await get('/top')).headers.get('content-security-policy'),
        "default-src 'none'; sandbox allow-scripts allow-forms, sandbox allow-scripts allow-forms",
      );
      // Our sandbox, last, keeps only what every sandbox of the route allows: in a browser that
      // reads only the last sandbox, as in one that combines them, the page gets no more.
      const several = (await get('/several')).headers.get('content-security-policy') ?? '';
      assert.equal(
        several,
        "default-src 'none', img-src *; sandbox allow-scripts allow-forms, sandbox allow-scripts allow-modals, sandbox allow-scripts",
      );
      for (const path of ['/plain', '/own', '/loose', '/top', '/several']) {
        const header = (await get(path)).headers.get('content-security-policy') ?? '';
        const policies = sandboxes(header);
        assert.ok(Array.isArray(policies.at(-1)), `${path}: the last policy is a sandbox: ${header}`);
        for (const tokens of policies) {
          for (const token of tokens ?? [])
            assert.doesNotMatch(token, /same-origin|top-navigation|escape/, path);
        }
      }
    });

    test('JSON answers keep the headers the route set, and get no sandbox', async () => {
      assert.equal((await get('/json')).headers.get('content-security-policy'), "default-src 'none'");
      const typed = await get('/typed-json');
      assert.equal(typed.headers.get('content-security-policy'), 'sandbox allow-same-origin');
      assert.deepEqual(typed.body, { a: 1 });
      const data = await get('/data');
      assert.equal(data.headers.get('content-security-policy'), null);
      assert.deepEqual(data.body, { success: true, data: 1 });
    });
  });
}
