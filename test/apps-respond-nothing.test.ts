import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { databaseKinds } from './helpers/database.ts';
import { startTestServer, type TestServer } from './helpers/server.ts';

/**
 * A respond step's body that yields nothing (a path over no match) is JSON null, as docs/apps.md
 * says of "nothing" in a response body and as a transform's output is; a respond without a body
 * stays empty. It was a 200 with an empty body and no content type: `response.json()` threw.
 */
for (const kind of databaseKinds) {
  describe(`App APIs: a respond body that yields nothing (${kind})`, () => {
    let server: TestServer;
    let key: string;

    before(async () => {
      server = await startTestServer(kind);
      await server.createEndpoint({ slug: 'items', name: 'Items', schema: { type: 'object' } });
      const created = await server.admin('POST', '/admin/v1/apps', {
        slug: 'lookup',
        name: 'Lookup',
        routes: [
          {
            method: 'GET',
            path: '/items/:sku',
            steps: [
              { name: 'rows', type: 'find', endpoint: 'items', filter: { sku: 'params.sku' }, limit: 1 },
              { name: 'out', type: 'respond', body: 'rows[0].data' },
            ],
          },
          {
            method: 'GET',
            path: '/ping',
            steps: [{ name: 'out', type: 'respond', status: 202 }],
          },
        ],
      });
      assert.equal(created.status, 201, created.text);
      key = (await server.createKey({ name: 'k', environment: 'test', scopes: ['apps:lookup'] })).key;
    });
    after(() => server.close());

    test('a body expression over no match answers null as JSON', async () => {
      const answer = await server.request('GET', '/api/v1/apps/lookup/items/none', { key });
      assert.equal(answer.status, 200, answer.text);
      assert.match(answer.headers.get('content-type') ?? '', /^application\/json/);
      assert.equal(answer.text, 'null');
    });

    test('a respond step without a body still answers an empty body', async () => {
      const answer = await server.request('GET', '/api/v1/apps/lookup/ping', { key });
      assert.equal(answer.status, 202, answer.text);
      assert.equal(answer.text, '');
    });
  });
}
