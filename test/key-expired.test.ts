import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer } from './helpers/server.ts';

/**
 * An expired key cannot be made to work by activating or rolling it (a roll would hand out a
 * secret expired already): both are 409 saying what would, and change nothing; with a later
 * expiry they work again.
 */
describe('an expired key: activate and roll say to give it a later expires_at', () => {
  let server: TestServer;

  before(async () => {
    server = await startTestServer('sqlite');
  });
  after(() => server.close());

  test('activate and roll are 409 and change nothing; after PATCH expires_at they work', async () => {
    const expiresAt = new Date(Date.now() + 1_500).toISOString();
    const key = await server.createKey({ name: 'brief', environment: 'test', expires_at: expiresAt });
    const deactivated = await server.admin('POST', `/admin/v1/keys/${key.id}/deactivate`);
    assert.equal(deactivated.status, 200, deactivated.text);
    await new Promise((resolve) => setTimeout(resolve, Date.parse(expiresAt) - Date.now() + 100));
    const before = (await server.admin('GET', `/admin/v1/keys/${key.id}`)).body.data;
    const expected = `The key expired at ${before.expires_at}`;
    const activated = await server.admin('POST', `/admin/v1/keys/${key.id}/activate`);
    assert.equal(activated.status, 409, activated.text);
    assert.equal(activated.body.code, 'conflict');
    assert.equal(
      activated.body.error,
      `${expected}: activating it would not make it work. Give it a later expires_at (or null) first: PATCH /admin/v1/keys/${key.id} (gatehouse keys update ${key.id} --expires-at <when|none>)`,
    );
    const rolled = await server.admin('POST', `/admin/v1/keys/${key.id}/roll`);
    assert.equal(rolled.status, 409, rolled.text);
    assert.match(
      rolled.body.error,
      /^The key expired at [^:]+:\d\d:[\d.]+Z: a new secret would be expired too\. /,
    );
    assert.equal(rolled.body.key, undefined, 'no secret handed out');
    const after = (await server.admin('GET', `/admin/v1/keys/${key.id}`)).body.data;
    assert.deepEqual(after, before, 'nothing changed');
    // The old secret is still refused (the key is inactive, and expired).
    const call = await server.request('GET', '/api/v1/data/nothing/rec_00000000000000000000000', {
      key: key.key,
    });
    assert.equal(call.status, 401, call.text);

    const renewed = await server.admin('PATCH', `/admin/v1/keys/${key.id}`, { expires_at: null });
    assert.equal(renewed.status, 200, renewed.text);
    assert.equal((await server.admin('POST', `/admin/v1/keys/${key.id}/activate`)).status, 200);
    const rolledNow = await server.admin('POST', `/admin/v1/keys/${key.id}/roll`);
    assert.equal(rolledNow.status, 200, rolledNow.text);
    assert.match(rolledNow.body.data.key, /^gk_test_/);
  });
});
