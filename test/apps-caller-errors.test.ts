import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { databaseKinds } from './helpers/database.ts';
import { countRows, startTestServer, type TestServer } from './helpers/server.ts';

/** What a caller of an App API gets wrong, told back in words that say what to fix. */
for (const kind of databaseKinds) {
  describe(`App APIs: a caller's mistakes (${kind})`, () => {
    let server: TestServer;
    let key: string;
    const call = (method: string, path: string, json?: unknown) =>
      server.request(method, `/api/v1/apps/notes${path}`, { key, json });

    before(async () => {
      server = await startTestServer(kind);
      await server.createEndpoint({
        slug: 'notes',
        name: 'Notes',
        schema: { type: 'object', properties: { title: { type: 'string' } } },
      });
      const app = await server.admin('POST', '/admin/v1/apps', {
        slug: 'notes',
        name: 'Notes',
        routes: [
          {
            method: 'GET',
            path: '/notes/:id',
            steps: [{ name: 'note', type: 'get', endpoint: 'notes', id: 'params.id' }],
          },
          {
            method: 'POST',
            path: '/notes/:title/pin',
            query: [
              { name: 'loud', type: 'boolean' },
              { name: 'count', type: 'integer' },
            ],
            steps: [{ name: 'note', type: 'create', endpoint: 'notes', data: "{ 'title': params.title }" }],
          },
          {
            method: 'GET',
            path: '/search',
            auth: 'public',
            query: [{ name: 'q', type: 'string', required: true }],
            steps: [{ name: 'go', type: 'redirect', url: "'https://shop.example/search?q=' & query.q" }],
          },
          {
            method: 'GET',
            path: '/token-only',
            auth: 'jwt',
            steps: [{ name: 'out', type: 'transform', expression: '1' }],
          },
        ],
      });
      assert.equal(app.status, 201, app.text);
      key = (await server.createKey({ name: 'n', environment: 'test', scopes: ['apps:notes'] })).key;
    });
    after(() => server.close());

    test("?environment that is not the key's own is a 400 naming it, and nothing runs or is written", async () => {
      // Deployed, so a live key has a live app to run: the parameter, not a missing version, refuses.
      assert.equal((await server.admin('POST', '/admin/v1/endpoints/notes/deploy')).status, 201);
      assert.equal((await server.admin('POST', '/admin/v1/apps/notes/deploy')).status, 201);
      const live = (await server.createKey({ name: 'l', environment: 'live', scopes: ['apps:notes'] })).key;
      const before = await countRows(server, 'records');
      for (const [secret, path, message] of [
        [
          live,
          '/notes/a/pin?environment=test',
          'The live key calls live: leave ?environment out, or call with a test key',
        ],
        [
          key,
          '/notes/b/pin?environment=live',
          'The test key calls test: leave ?environment out, or call with a live key',
        ],
        [key, '/notes/c/pin?environment=sandbox', 'Must be test or live'],
        [key, '/notes/c/pin?environment=test&environment=test', 'May be given only once'],
      ] as const) {
        const answer = await server.request('POST', `/api/v1/apps/notes${path}`, { key: secret, json: {} });
        assert.equal(answer.status, 400, `${path}: ${answer.text}`);
        assert.equal(answer.body.code, 'invalid_request');
        assert.deepEqual(answer.body.details, [{ field: 'environment', error: message }], path);
      }
      assert.equal(await countRows(server, 'records'), before, 'nothing was written');
      // The key's own environment, named or not, runs as before.
      const named = await server.request('POST', '/api/v1/apps/notes/notes/d/pin?environment=test', {
        key,
        json: {},
      });
      assert.equal(named.status, 200, named.text);
      assert.equal(
        (await server.request('POST', '/api/v1/apps/notes/notes/e/pin', { key: live, json: {} })).status,
        200,
      );
      assert.equal(await countRows(server, 'records'), before + 2);
    });

    test('an empty path segment is no value for a :param: 404 naming the path, and nothing is written', async () => {
      const records = await countRows(server, 'records');
      // It ran the pipeline with "" (a 500 blaming the app's step, or a note titled "").
      const read = await call('GET', '/notes/');
      assert.equal(read.status, 404, read.text);
      const write = await call('POST', '/notes//pin');
      assert.equal(write.status, 404, write.text);
      assert.equal(write.body.code, 'not_found');
      assert.equal(write.body.error, 'No route for POST /api/v1/apps/notes/notes//pin');
      const readEmpty = await call('GET', '/notes//');
      assert.equal(readEmpty.status, 404, readEmpty.text);
      assert.equal(readEmpty.body.code, 'not_found');
      assert.equal(await countRows(server, 'records'), records, 'nothing was written');
      // A segment with a value still matches.
      const pinned = await call('POST', '/notes/groceries/pin');
      assert.equal(pinned.status, 200, pinned.text);
      assert.equal(pinned.body.data.data.title, 'groceries');
    });

    test('a query parameter of the wrong type says what it takes', async () => {
      const bad = await call('POST', '/notes/a/pin?loud=yes');
      assert.equal(bad.status, 400, bad.text);
      assert.deepEqual(bad.body.details, [{ field: 'loud', error: 'Must be true, false, 1 or 0' }]);
      assert.equal((await call('POST', '/notes/a/pin?loud=1')).status, 200);
      // An integer too large was told it is not an integer.
      for (const n of ['9007199254740992', '99999999999999999999', '-9007199254740992']) {
        const big = await call('POST', `/notes/a/pin?count=${n}`);
        assert.equal(big.status, 400, big.text);
        assert.deepEqual(big.body.details, [
          { field: 'count', error: 'Must be an integer from -9007199254740991 to 9007199254740991' },
        ]);
      }
      assert.deepEqual((await call('POST', '/notes/a/pin?count=1.5')).body.details, [
        { field: 'count', error: 'Must be an integer' },
      ]);
      assert.equal((await call('POST', '/notes/a/pin?count=-9007199254740991')).status, 200);
    });

    test('a body over 5 MiB is a 413 that names the limit, on App APIs and the management API', async () => {
      const records = await countRows(server, 'records');
      const big = { title: 'x'.repeat(5 * 1024 * 1024) };
      const app = await call('POST', '/notes/a/pin', big);
      assert.equal(app.status, 413, app.text);
      assert.equal(app.body.code, 'payload_too_large');
      assert.equal(app.body.error, 'Payload too large: the limit is 5242880 bytes');
      const admin = await server.admin('POST', '/admin/v1/endpoints', { slug: 'big', name: 'Big', ...big });
      assert.equal(admin.status, 413, admin.text);
      assert.equal(admin.body.error, 'Payload too large: the limit is 5242880 bytes');
      assert.equal(await countRows(server, 'records'), records, 'nothing was written');
      assert.equal((await server.admin('GET', '/admin/v1/endpoints/big')).status, 404);
    });

    test('an expression reading a path or query parameter the route does not have is refused when saved', async () => {
      // A typo read nothing at run time, and a find filter that reads nothing is left out: this
      // public status page answered the newest order, whatever order_id was asked for.
      const statusPage = (filter: string, tag = 'query.tag') => ({
        slug: 'status',
        name: 'Status',
        routes: [
          {
            method: 'GET',
            path: '/orders/:order_id/status',
            auth: 'public',
            query: [{ name: 'tag', type: 'string' }],
            steps: [
              { name: 'matches', type: 'find', endpoint: 'notes', filter: { title: filter }, limit: 1 },
              { name: 'out', type: 'transform', expression: `[matches.data.title, ${tag}]` },
            ],
          },
        ],
      });
      const typo = await server.admin('POST', '/admin/v1/apps', statusPage('params.orderId', 'query.tags'));
      assert.equal(typo.status, 400, typo.text);
      assert.equal(typo.body.code, 'invalid_app');
      const at = 'routes[0] (GET /orders/:order_id/status).steps';
      assert.deepEqual(typo.body.details, [
        {
          field: `${at}[0] ("matches").filter.title`,
          error: 'Reads params.orderId, but the path has :order_id',
        },
        {
          field: `${at}[1] ("out").expression`,
          error: 'Reads query.tags, which the route does not declare in "query"',
        },
      ]);
      assert.equal((await server.admin('GET', '/admin/v1/apps/status')).status, 404, 'nothing was stored');
      const fixed = await server.admin('POST', '/admin/v1/apps', statusPage('params.order_id'));
      assert.equal(fixed.status, 201, fixed.text);
    });

    test('a redirect built from a query parameter with spaces sends them percent-encoded', async () => {
      const search = (q: string) =>
        server.request('GET', `/api/v1/apps/notes/search?environment=test&q=${q}`, { redirect: 'manual' });
      // It was a 500 app_step_failed ("no control characters"), as if the app were broken.
      const spaced = await search('red%20shoes%20size 42');
      assert.equal(spaced.status, 302, spaced.text);
      assert.equal(spaced.headers.get('location'), 'https://shop.example/search?q=red%20shoes%20size%2042');
      const tabbed = await search('red%09shoes');
      assert.equal(tabbed.status, 500, tabbed.text);
      assert.match(tabbed.body.error, /Step "go" failed: .*no control characters/);
    });

    test("the API document names each route's own scope, not a placeholder", async () => {
      const doc = (await server.request('GET', '/api/v1/openapi.json', { key })).body;
      const read = doc.paths['/api/v1/apps/notes/notes/{id}'].get;
      assert.match(read.description, /with the scope `apps:notes` or `\*`/);
      const tokenOnly = doc.paths['/api/v1/apps/notes/token-only'].get;
      assert.match(tokenOnly.description, /key scope `apps:notes` or `\*`/);
      assert.doesNotMatch(JSON.stringify(doc), /apps:\{app\}/);
    });
  });
}
