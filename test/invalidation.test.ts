import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { databaseKinds } from './helpers/database.ts';
import { ordersSchema, startPeerServer, startTestServer, type TestServer } from './helpers/server.ts';

async function eventually(check: () => Promise<boolean>, timeoutMs = 3_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  assert.fail('condition not met in time');
}

for (const kind of databaseKinds) {
  describe(`cache invalidation across processes over Redis (${kind})`, () => {
    // A long TTL, so that only the Redis message can explain a change seen by the other server.
    const env = {
      REDIS_URL: 'redis://127.0.0.1:6379',
      GATEHOUSE_REDIS_PREFIX: `test-${randomBytes(4).toString('hex')}:`,
      GATEHOUSE_CACHE_TTL_MS: '600000',
    };
    let a: TestServer;
    let bUrl: string;
    let closeB: () => Promise<void>;

    before(async () => {
      a = await startTestServer(kind, env);
      ({ url: bUrl, close: closeB } = await startPeerServer(a, env));
    });
    after(async () => {
      await closeB();
      await a.close();
    });

    test('a key revoked on one server is refused by the other within moments', async () => {
      await a.createEndpoint({ slug: 'orders', name: 'Orders', schema: ordersSchema });
      const { id, key } = await a.createKey({ name: 'k', environment: 'test' });
      const onB = () =>
        fetch(`${bUrl}/api/v1/data/orders?limit=1`, { headers: { authorization: `Bearer ${key}` } });
      assert.equal((await onB()).status, 200); // now cached on B
      await a.admin('POST', `/admin/v1/keys/${id}/revoke`);
      await eventually(async () => (await onB()).status === 401);
    });

    test("a key's callback secret rotated on one server is the one the other shows", async () => {
      const { id, key } = await a.createKey({ name: 'k-cb', environment: 'test' });
      const onB = async () =>
        (
          (await (
            await fetch(`${bUrl}/api/v1/account`, { headers: { authorization: `Bearer ${key}` } })
          ).json()) as { data: { callback_signing_secret: string } }
        ).data.callback_signing_secret;
      const before = await onB(); // now cached on B
      const rotated = await a.admin('POST', `/admin/v1/keys/${id}/rotate-callback-secret`, {});
      assert.equal(rotated.status, 200, rotated.text);
      assert.notEqual(rotated.body.data.secret, before);
      await eventually(async () => (await onB()) === rotated.body.data.secret);
    });

    test('an endpoint change on one server is seen by the other', async () => {
      const { key } = await a.createKey({ name: 'k2', environment: 'test' });
      const onB = () =>
        fetch(`${bUrl}/api/v1/data/orders`, {
          method: 'POST',
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
          body: JSON.stringify({ order_id: 'x', amount: 1 }),
        });
      assert.equal((await onB()).status, 202);
      await a.admin('PATCH', '/admin/v1/endpoints/orders', { active: false });
      await eventually(async () => (await onB()).status === 403);
    });

    test('a management token revoked on one server is refused by the other within moments', async () => {
      const made = await a.admin('POST', '/admin/v1/tokens', { name: 'script' });
      const { id, token } = made.body.data;
      const onB = () =>
        fetch(`${bUrl}/admin/v1/endpoints`, { headers: { authorization: `Bearer ${token}` } });
      assert.equal((await onB()).status, 200); // now cached on B
      assert.equal((await a.admin('DELETE', `/admin/v1/tokens/${id}`)).status, 200);
      await eventually(async () => (await onB()).status === 401);
    });
  });
}
