import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer } from './helpers/server.ts';

/**
 * docs/apps.md: a malformed percent-escape in any query parameter of an App route is a 400 naming
 * it. `after` was let through as sent (`%zz`), as the data API's list cursor is (refused there as
 * 400 invalid_cursor instead): an App API has no cursor, and a route declaring `after` got "%zz".
 */
describe('App APIs: a malformed escape in a parameter named after is a 400 too', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer('sqlite');
    const created = await server.admin('POST', '/admin/v1/apps', {
      slug: 'pages',
      name: 'Pages',
      routes: [
        {
          method: 'GET',
          path: '/items',
          auth: 'public',
          query: [{ name: 'after', type: 'string' }],
          steps: [{ name: 'out', type: 'respond', body: '{"after": query.after}' }],
        },
      ],
    });
    assert.equal(created.status, 201, created.text);
  });
  after(() => server.close());

  test('?after=%zz is refused naming after; a well-formed one is decoded', async () => {
    for (const query of ['after=%zz', '%61fter=%E0%A4%A']) {
      const bad = await server.request('GET', `/api/v1/apps/pages/items?environment=test&${query}`);
      assert.equal(bad.status, 400, `${query}: ${bad.text}`);
      assert.equal(bad.body.code, 'invalid_request');
      assert.equal(bad.body.details[0].field, 'after', query);
      assert.match(bad.body.details[0].error, /^Malformed percent-encoding/);
    }
    const good = await server.request('GET', '/api/v1/apps/pages/items?environment=test&after=100%25');
    assert.equal(good.status, 200, good.text);
    assert.deepEqual(good.body, { after: '100%' });
  });

  test('a malformed parameter name is refused as before', async () => {
    const bad = await server.request('GET', '/api/v1/apps/pages/items?environment=test&%zz=1');
    assert.equal(bad.status, 400, bad.text);
    assert.equal(bad.body.details[0].field, '%zz');
  });
});
