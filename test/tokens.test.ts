import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { databaseKinds } from './helpers/database.ts';
import { startTestServer, type TestServer } from './helpers/server.ts';

for (const kind of databaseKinds) {
  describe(`short-lived JWTs (${kind})`, () => {
    let server: TestServer;

    before(async () => {
      server = await startTestServer(kind);
      await server.createEndpoint({ slug: 'orders', name: 'Orders', schema: { type: 'object' } });
      await server.admin('POST', '/admin/v1/endpoints/orders/deploy');
    });
    after(() => server.close());

    async function mint(key: string, body: unknown = {}) {
      return server.request('POST', '/api/v1/tokens', { key, json: body });
    }

    test('a key mints a token that works on the data API, in its own environment only', async () => {
      const { key } = await server.createKey({
        name: 'k',
        environment: 'test',
        scopes: ['orders:read', 'orders:write'],
      });
      const minted = await mint(key);
      assert.equal(minted.status, 201);
      const { token, expires_at, environment } = minted.body.data;
      assert.equal(token.split('.').length, 3);
      assert.equal(environment, 'test');
      const expires = Date.parse(expires_at) - Date.now();
      assert.ok(expires > 14 * 60_000 && expires <= 15 * 60_000, `default expiry ${expires} ms`);
      const write = await server.request('POST', '/api/v1/data/orders', { key: token, json: { a: 1 } });
      assert.equal(write.status, 202);
      const read = await server.request('GET', `/api/v1/data/orders/${write.body.id}`, { key: token });
      assert.equal(read.body.data.environment, 'test');
      // The token carries the key's scopes and its environment: live data stays out of reach.
      const { key: liveKey } = await server.createKey({ name: 'l', environment: 'live' });
      const live = await server.request('POST', '/api/v1/data/orders', {
        key: liveKey,
        json: { live: true },
      });
      assert.equal(
        (await server.request('GET', `/api/v1/data/orders/${live.body.id}`, { key: token })).status,
        404,
      );
      // Tokens cannot mint tokens.
      assert.equal((await mint(token)).status, 403);
    });

    test('two tokens minted in the same second are two tokens, each with its own id', async () => {
      const { key } = await server.createKey({ name: 'twice', environment: 'test' });
      const claims = (token: string) =>
        JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()) as {
          iat: number;
          jti?: string;
        };
      // Until two mints fall in the same second (the second can turn between them).
      for (let attempt = 0; ; attempt++) {
        const [first, second] = await Promise.all([mint(key), mint(key)]);
        const [a, b] = [first.body.data.token as string, second.body.data.token as string];
        if (claims(a).iat !== claims(b).iat && attempt < 5) continue;
        assert.equal(claims(a).iat, claims(b).iat);
        assert.notEqual(a, b);
        assert.match(claims(a).jti ?? '', /^tok_[0-9A-Za-z]{22}$/);
        assert.notEqual(claims(a).jti, claims(b).jti);
        for (const token of [a, b])
          assert.equal((await server.request('GET', '/api/v1/account', { key: token })).status, 200);
        break;
      }
    });

    test('revoking or deactivating the key ends its tokens at once; tampered and expired tokens fail', async () => {
      const k = await server.createKey({ name: 'k2', environment: 'test' });
      const { token } = (await mint(k.key)).body.data;
      assert.equal((await server.request('GET', '/api/v1/account', { key: token })).status, 200);
      await server.admin('POST', `/admin/v1/keys/${k.id}/deactivate`);
      const off = await server.request('GET', '/api/v1/account', { key: token });
      assert.equal(off.status, 401);
      assert.equal(off.body.code, 'api_key_inactive');
      await server.admin('POST', `/admin/v1/keys/${k.id}/activate`);
      assert.equal((await server.request('GET', '/api/v1/account', { key: token })).status, 200);
      await server.admin('POST', `/admin/v1/keys/${k.id}/revoke`);
      assert.equal(
        (await server.request('GET', '/api/v1/account', { key: token })).body.code,
        'api_key_revoked',
      );

      const fresh = await server.createKey({ name: 'k3', environment: 'test' });
      const good = (await mint(fresh.key, { expires_in: 30 })).body.data.token as string;
      const [h, p, sig] = good.split('.');
      const payload = JSON.parse(Buffer.from(p ?? '', 'base64url').toString());
      const forged = `${h}.${Buffer.from(JSON.stringify({ ...payload, env: 'live' })).toString('base64url')}.${sig}`;
      const refused = await server.request('GET', '/api/v1/account', { key: forged });
      assert.equal(refused.status, 401);
      assert.equal(refused.body.code, 'invalid_api_key');
      assert.equal((await server.request('GET', '/api/v1/account', { key: 'a.b.c' })).status, 401);
      for (const bad of [{ expires_in: 7200 }, { expires_in: 1 }, { scope: 'x' }]) {
        assert.equal((await mint(fresh.key, bad)).status, 400, JSON.stringify(bad));
      }
    });

    test('a token ends with the secret it was minted with: a roll shuts out tokens of the old secret after the grace', async () => {
      const k = await server.createKey({ name: 'rolled', environment: 'test' });
      const before = (await mint(k.key, { expires_in: 3600 })).body.data.token as string;
      const rolled = await server.admin('POST', `/admin/v1/keys/${k.id}/roll`, { grace_seconds: 2 });
      assert.equal(rolled.status, 200, rolled.text);
      const newSecret = rolled.body.data.key as string;
      // During the grace the old secret still mints, and its tokens work like it does.
      const during = (await mint(k.key, { expires_in: 3600 })).body.data.token as string;
      const fresh = (await mint(newSecret, { expires_in: 3600 })).body.data.token as string;
      for (const token of [before, during, fresh])
        assert.equal((await server.request('GET', '/api/v1/account', { key: token })).status, 200);
      await new Promise((r) => setTimeout(r, 2_500));
      assert.equal((await server.request('GET', '/api/v1/account', { key: k.key })).status, 401);
      // One minted during the grace was made to expire with it (tokens-expiry-cap.test.ts).
      for (const [token, code] of [
        [before, 'invalid_api_key'],
        [during, 'api_key_expired'],
      ]) {
        const refused = await server.request('POST', '/api/v1/data/orders', {
          key: token,
          json: { stolen: true },
        });
        assert.equal(refused.status, 401, 'a token of the rolled-away secret still works');
        assert.equal(refused.body.code, code);
      }
      assert.equal((await server.request('GET', '/api/v1/account', { key: fresh })).status, 200);
      // With no grace at all, the old secret's tokens end with the roll.
      const now = (await mint(newSecret)).body.data.token as string;
      await server.admin('POST', `/admin/v1/keys/${k.id}/roll`, { grace_seconds: 0 });
      assert.equal((await server.request('GET', '/api/v1/account', { key: now })).status, 401);
    });

    test('rotating the signing key keeps earlier tokens valid and signs new ones with the new key', async () => {
      const k = await server.createKey({ name: 'k4', environment: 'test' });
      const before = (await mint(k.key)).body.data.token as string;
      const rotated = await server.admin('POST', '/admin/v1/tokens/rotate-signing-key');
      assert.equal(rotated.status, 200);
      const after = (await mint(k.key)).body.data.token as string;
      const kid = (t: string) => JSON.parse(Buffer.from(t.split('.')[0] ?? '', 'base64url').toString()).kid;
      assert.notEqual(kid(before), kid(after));
      assert.equal(kid(after), rotated.body.data.kid);
      for (const t of [before, after])
        assert.equal((await server.request('GET', '/api/v1/account', { key: t })).status, 200);
    });
  });
}
