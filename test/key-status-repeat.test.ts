import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer } from './helpers/server.ts';

// Revoking a revoked key (or deactivating an inactive one, activating an active one) answered 200
// and moved updated_at: a revoked key, which "cannot be changed", read as changed after its revoke.
describe('a lifecycle action on a key already in that state changes nothing', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer('sqlite');
  });
  after(async () => server.close());

  for (const [action, setup] of [
    ['revoke', 'revoke'],
    ['deactivate', 'deactivate'],
    ['activate', undefined],
  ] as const) {
    test(`${action} twice: 200 with the key as it was, updated_at kept`, async () => {
      const { id } = await server.createKey({ name: action, environment: 'test' });
      if (setup) assert.equal((await server.admin('POST', `/admin/v1/keys/${id}/${setup}`)).status, 200);
      const before = (await server.admin('GET', `/admin/v1/keys/${id}`)).body.data;
      await new Promise((resolve) => setTimeout(resolve, 5));
      const again = await server.admin('POST', `/admin/v1/keys/${id}/${action}`);
      assert.equal(again.status, 200);
      assert.equal(again.body.data.status, before.status);
      assert.equal(again.body.data.updated_at, before.updated_at);
      assert.equal(
        (await server.admin('GET', `/admin/v1/keys/${id}`)).body.data.updated_at,
        before.updated_at,
      );
    });
  }

  test('a key that works keeps working after a repeated activate', async () => {
    const { id, key } = await server.createKey({ name: 'works', environment: 'test' });
    assert.equal((await server.admin('POST', `/admin/v1/keys/${id}/activate`)).status, 200);
    assert.equal((await server.request('GET', '/api/v1/account', { key })).status, 200);
  });
});
