import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { databaseKinds } from './helpers/database.ts';
import { countRows, startTestServer, type TestServer } from './helpers/server.ts';

/**
 * JSON has no Infinity: an expression that yields one (`a / b` with b = 0) fails its step with
 * 500 app_step_failed naming the step and field. It was written as null: a record stored
 * `{"ratio":null}`, and a find filter became `eq null`, matching every record without the field.
 */
for (const kind of databaseKinds) {
  describe(`App APIs: Infinity in an expression's result (${kind})`, () => {
    let server: TestServer;
    let key: string;
    const call = (path: string) => server.request('GET', `/api/v1/apps/ratios${path}`, { key });

    before(async () => {
      server = await startTestServer(kind);
      await server.createEndpoint({ slug: 'stats', name: 'Stats', schema: { type: 'object' } });
      const query = [
        { name: 'a', type: 'integer', required: true },
        { name: 'b', type: 'integer', required: true },
      ];
      const created = await server.admin('POST', '/admin/v1/apps', {
        slug: 'ratios',
        name: 'Ratios',
        routes: [
          {
            method: 'GET',
            path: '/save',
            query,
            steps: [
              { name: 'saved', type: 'create', endpoint: 'stats', data: "{ 'ratio': query.a / query.b }" },
            ],
          },
          {
            method: 'GET',
            path: '/find',
            query,
            steps: [
              { name: 'rows', type: 'find', endpoint: 'stats', filter: { ratio: 'query.a / query.b' } },
            ],
          },
        ],
      });
      assert.equal(created.status, 201, created.text);
      key = (await server.createKey({ name: 'k', environment: 'test', scopes: ['apps:ratios'] })).key;
      // A record without the field, which `eq null` would match.
      const other = await server.request('POST', '/api/v1/data/stats', {
        key: (await server.createKey({ name: 'w', environment: 'test' })).key,
        json: { note: 'no ratio' },
      });
      assert.equal(other.status, 202, other.text);
    });
    after(() => server.close());

    test('a division by zero in record data fails the step, and nothing is written', async () => {
      assert.equal((await call('/save?a=1&b=2')).status, 200);
      const records = await countRows(server, 'records');
      const answer = await call('/save?a=1&b=0');
      assert.equal(answer.status, 500, answer.text);
      assert.equal(answer.body.code, 'app_step_failed');
      assert.match(answer.body.error, /^Step "saved" failed: .*Infinity or NaN/);
      assert.equal(answer.body.details[0].field, 'steps.saved.data');
      assert.equal(await countRows(server, 'records'), records);
    });

    test('a division by zero in a find filter fails the step, not matching records without the field', async () => {
      const answer = await call('/find?a=1&b=0');
      assert.equal(answer.status, 500, answer.text);
      assert.equal(answer.body.details[0].field, 'steps.rows.filter.ratio');
      const fine = await call('/find?a=1&b=2');
      assert.equal(fine.status, 200, fine.text);
      assert.equal(fine.body.data.length, 1);
    });
  });
}
