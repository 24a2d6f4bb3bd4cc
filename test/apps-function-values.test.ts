import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { databaseKinds } from './helpers/database.ts';
import { countRows, startTestServer, type TestServer } from './helpers/server.ts';

/**
 * A JSONata function is no JSON value: one an expression yields (a built-in named without
 * calling it, `$uppercase`, or a lambda) is left out, as JSON leaves out a JavaScript function.
 * It was sent as JSONata's own `{"_jsonata_function":true,"signature":…}`, stored so in records,
 * or, for a lambda, refused as "nested more than 1000 levels deep" (its environment was walked).
 */
for (const kind of databaseKinds) {
  describe(`App APIs: function values in results (${kind})`, () => {
    let server: TestServer;
    let key: string;
    const call = (path: string) => server.request('GET', `/api/v1/apps/fns${path}`, { key });

    before(async () => {
      server = await startTestServer(kind);
      await server.createEndpoint({ slug: 'notes', name: 'Notes', schema: { type: 'object' } });
      const created = await server.admin('POST', '/admin/v1/apps', {
        slug: 'fns',
        name: 'Functions',
        routes: [
          {
            method: 'GET',
            path: '/builtin',
            steps: [
              { name: 'out', type: 'respond', body: "{ 'a': $uppercase, 'b': 1, 'c': [$lowercase, 2] }" },
            ],
          },
          {
            method: 'GET',
            path: '/lambda',
            steps: [{ name: 'out', type: 'respond', body: "{ 'f': function($x) { $x }, 'b': 1 }" }],
          },
          {
            method: 'GET',
            path: '/alone',
            steps: [{ name: 'out', type: 'transform', expression: 'function($x) { $x }' }],
          },
          {
            method: 'GET',
            path: '/partial',
            steps: [
              {
                name: 'out',
                type: 'respond',
                body: "{ 'f': $substring(?, 0, 2), 'g': function($a, $b) { $a & $b }(?, 'x'), 'c': [$substring(?, 1), 2] }",
              },
            ],
          },
          {
            method: 'GET',
            path: '/write',
            steps: [
              {
                name: 'note',
                type: 'create',
                endpoint: 'notes',
                data: "{ 'title': 'hello', 'f': $uppercase, 'g': function($x) { $x } }",
              },
            ],
          },
        ],
      });
      assert.equal(created.status, 201, created.text);
      key = (await server.createKey({ name: 'k', environment: 'test', scopes: ['apps:fns', 'records:read'] }))
        .key;
    });
    after(() => server.close());

    test('a built-in function in a body is left out of objects, null in arrays', async () => {
      const answer = await call('/builtin');
      assert.equal(answer.status, 200, answer.text);
      assert.deepEqual(answer.body, { b: 1, c: [null, 2] });
    });

    test('a lambda in a body is left out, not refused as nested too deep', async () => {
      const answer = await call('/lambda');
      assert.equal(answer.status, 200, answer.text);
      assert.deepEqual(answer.body, { b: 1 });
      const alone = await call('/alone');
      assert.equal(alone.status, 200, alone.text);
      assert.deepEqual(alone.body, { success: true, data: null });
    });

    // JSONata makes a partially applied function without the `apply` its other lambdas carry: it
    // was walked as data, and refused as nested more than 1000 levels deep.
    test('a partially applied function (`$substring(?, 0, 2)`) is left out too', async () => {
      const answer = await server.request('GET', '/api/v1/apps/fns/partial', {
        key,
        headers: { 'x-secret': 'hunter2' },
      });
      assert.equal(answer.status, 200, answer.text);
      assert.doesNotMatch(answer.text, /hunter2|_jsonata/);
      assert.deepEqual(answer.body, { c: [null, 2] });
    });

    test('a record is written without the functions its data expression held', async () => {
      const before = await countRows(server, 'records');
      const answer = await call('/write');
      assert.equal(answer.status, 200, answer.text);
      assert.deepEqual(answer.body.data.data, { title: 'hello' });
      assert.equal(await countRows(server, 'records'), before + 1);
      const stored = await server.request('GET', `/api/v1/data/notes/${answer.body.data.id}`, { key });
      assert.equal(stored.status, 200, stored.text);
      assert.deepEqual(stored.body.data.data, { title: 'hello' });
    });
  });
}
