import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startPeerServer, startTestServer, type TestServer } from './helpers/server.ts';

/**
 * `nullable` (OpenAPI 3.0's keyword, not JSON Schema's) is refused in a schema being saved, with
 * the draft 2020-12 way to say it; a schema saved with it earlier still loads, and its list
 * filters take `null` on such a field, as Ajv lets null through there.
 */
describe('nullable in an endpoint schema', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer('sqlite');
  });
  after(() => server.close());

  test('a schema being saved with nullable is 400 naming each place; nothing is saved', async () => {
    const refused = await server.admin('POST', '/admin/v1/endpoints', {
      slug: 'legacy',
      name: 'Legacy',
      schema: {
        type: 'object',
        properties: {
          qty: { type: 'integer', nullable: true },
          tags: { type: 'array', items: { type: 'string', nullable: true } },
          pick: { anyOf: [{ type: 'string' }, { type: 'number', nullable: false }] },
        },
      },
    });
    assert.equal(refused.status, 400, refused.text);
    assert.equal(refused.body.code, 'invalid_schema');
    assert.deepEqual(
      refused.body.details.map((d: { field: string }) => d.field),
      [
        'schema.properties.qty.nullable',
        'schema.properties.tags.items.nullable',
        'schema.properties.pick.anyOf[1].nullable',
      ],
    );
    assert.match(refused.body.details[0].error, /add "null" to the type/);
    assert.equal((await server.admin('GET', '/admin/v1/endpoints/legacy')).status, 404);
  });

  test('a field named nullable is a field like any other', async () => {
    const made = await server.admin('POST', '/admin/v1/endpoints', {
      slug: 'flags',
      name: 'Flags',
      schema: { type: 'object', properties: { nullable: { type: 'boolean' } } },
    });
    assert.equal(made.status, 201, made.text);
  });

  test('a schema saved with nullable before it was refused: filter=null finds the null records', async () => {
    await server.createEndpoint({
      slug: 'older',
      name: 'Older',
      schema: { type: 'object', properties: { qty: { type: 'integer' } } },
    });
    // As a release that took nullable saved it.
    await server.services.database.db
      .updateTable('endpoints')
      .set({
        schema: JSON.stringify({ type: 'object', properties: { qty: { type: 'integer', nullable: true } } }),
      })
      .where('slug', '=', 'older')
      .execute();
    // Another process's services: the schema read afresh from the database.
    const peer = await startPeerServer(server, {});
    try {
      const { key } = await server.createKey({ name: 'older', environment: 'test' });
      const call = (method: string, path: string, json?: unknown) =>
        fetch(`${peer.url}${path}`, {
          method,
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
          body: json === undefined ? undefined : JSON.stringify(json),
        });
      for (const qty of [null, 3])
        assert.equal((await call('POST', '/api/v1/data/older', { qty })).status, 202);
      const list = await call('GET', '/api/v1/data/older?filter[qty]=null');
      const text = await list.text();
      assert.equal(list.status, 200, text);
      assert.deepEqual(
        JSON.parse(text).data.map((r: { data: { qty: unknown } }) => r.data.qty),
        [null],
      );
    } finally {
      await peer.close();
    }
  });
});
