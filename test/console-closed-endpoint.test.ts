import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { databaseKinds } from './helpers/database.ts';
import { endpointClosings } from './helpers/endpoint-closings.ts';
import { startTestServer, type TestServer } from './helpers/server.ts';

const SCHEMA = { type: 'object', required: ['sku'], properties: { sku: { type: 'string' } } };

/**
 * The production console writes live records as the data API does: into an endpoint its owner
 * closed (deactivated, or past its subscription's end) it writes nothing and says why, in the data
 * API's words. Reading what is there stays possible, as an export does.
 */
for (const kind of databaseKinds) {
  describe(`the console on a closed endpoint (${kind})`, () => {
    let server: TestServer;
    before(async () => {
      server = await startTestServer(kind);
    });
    after(() => server.close());

    const closings = endpointClosings(() => server);
    for (const { state, slug, code, close, reopen } of closings) {
      test(`a ${state} endpoint: console writes are refused with ${code}, reads still work`, async () => {
        await server.createEndpoint({ slug, name: slug, schema: SCHEMA });
        assert.equal((await server.admin('POST', `/admin/v1/endpoints/${slug}/deploy`)).status, 201);
        const base = `/admin/v1/console/${slug}/records`;
        const made = await server.admin('POST', base, { sku: 'before' });
        assert.equal(made.status, 201, made.text);
        const id = made.body.data.id as string;

        assert.equal((await close(slug)).status, 200);
        const live = await server.createKey({ name: `${slug} live`, environment: 'live', scopes: ['*'] });
        const api = await server.request('POST', `/api/v1/data/${slug}`, {
          json: { sku: 'api' },
          headers: { authorization: `Bearer ${live.key}` },
        });
        assert.equal(api.body.code, code, 'the data API refuses it');
        for (const [method, path, body] of [
          ['POST', base, { sku: 'new' }],
          ['PUT', `${base}/${id}`, { sku: 'changed' }],
          ['DELETE', `${base}/${id}`, undefined],
        ] as const) {
          const res = await server.admin(method, path, body);
          assert.equal(res.status, 403, `${method} ${res.text}`);
          assert.equal(res.body.code, code, `${method} ${res.text}`);
        }
        const list = await server.admin('GET', base);
        assert.equal(list.status, 200, list.text);
        assert.deepEqual(
          list.body.data.map((r: { data: unknown }) => r.data),
          [{ sku: 'before' }],
        );
        assert.equal((await server.admin('GET', `${base}/${id}`)).body.data.data.sku, 'before');

        assert.equal((await reopen(slug)).status, 200);
        const replaced = await server.admin('PUT', `${base}/${id}`, { sku: 'after' });
        assert.equal(replaced.status, 200, replaced.text);
      });
    }
  });
}
