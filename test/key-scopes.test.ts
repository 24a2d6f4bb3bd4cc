import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer } from './helpers/server.ts';

/**
 * A key with no scope at all would be refused (403) on every data call: the dashboard asks for
 * at least one, and the API refuses an empty list the same way, changing nothing.
 */
describe('a key needs at least one scope, and a name that is not blank', () => {
  let server: TestServer;

  before(async () => {
    server = await startTestServer('sqlite');
  });
  after(() => server.close());

  test('create with scopes [] is 400 naming scopes, and makes no key', async () => {
    const res = await server.admin('POST', '/admin/v1/keys', {
      name: 'none',
      environment: 'test',
      scopes: [],
    });
    assert.equal(res.status, 400, res.text);
    assert.equal(res.body.code, 'invalid_request');
    assert.deepEqual(res.body.details, [{ field: 'scopes', error: 'Must NOT have fewer than 1 items' }]);
    const list = await server.admin('GET', '/admin/v1/keys');
    assert.deepEqual(list.body.data, []);
  });

  test('a blank name is 400 naming name, on create and on update, and changes nothing', async () => {
    const created = await server.admin('POST', '/admin/v1/keys', { name: '   ', environment: 'test' });
    assert.equal(created.status, 400, created.text);
    assert.deepEqual(created.body.details, [{ field: 'name', error: 'Must not be blank' }]);
    const { id } = await server.createKey({ name: 'named', environment: 'test' });
    const patched = await server.admin('PATCH', `/admin/v1/keys/${id}`, { name: ' \t ' });
    assert.equal(patched.status, 400, patched.text);
    assert.deepEqual(patched.body.details, [{ field: 'name', error: 'Must not be blank' }]);
    const keys = (await server.admin('GET', '/admin/v1/keys')).body.data;
    assert.deepEqual(
      keys.map((k: { name: string }) => k.name),
      ['named'],
    );
  });

  test('update to scopes [] is 400 and keeps the old scopes', async () => {
    const { id } = await server.createKey({ name: 'reader', environment: 'test', scopes: ['orders:read'] });
    const res = await server.admin('PATCH', `/admin/v1/keys/${id}`, { scopes: [] });
    assert.equal(res.status, 400, res.text);
    assert.deepEqual(res.body.details, [{ field: 'scopes', error: 'Must NOT have fewer than 1 items' }]);
    const key = await server.admin('GET', `/admin/v1/keys/${id}`);
    assert.deepEqual(key.body.data.scopes, ['orders:read']);
  });
});
