import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { databaseKinds } from './helpers/database.ts';
import { startTestServer, type TestServer } from './helpers/server.ts';

/**
 * A token ends when what it was minted with ends (the key's expires_at, a rolled-away secret's
 * grace), whatever expires_in asked: its expires_at says so. It said the 15 minutes asked for,
 * while the token stopped working with the key a minute later.
 */
for (const kind of databaseKinds) {
  describe(`short-lived tokens end no later than their key (${kind})`, () => {
    let server: TestServer;
    const mint = (key: string, body: unknown = {}) =>
      server.request('POST', '/api/v1/tokens', { key, json: body });
    const account = (token: string) => server.request('GET', '/api/v1/account', { key: token });

    before(async () => {
      server = await startTestServer(kind);
    });
    after(() => server.close());

    test("a key expiring in a minute mints tokens whose expires_at is the key's, not 15 minutes on", async () => {
      const keyEnds = new Date(Date.now() + 60_000);
      const { key } = await server.createKey({
        name: 'soon',
        environment: 'test',
        expires_at: keyEnds.toISOString(),
      });
      const minted = await mint(key);
      assert.equal(minted.status, 201, minted.text);
      const ends = Date.parse(minted.body.data.expires_at);
      assert.ok(
        ends <= keyEnds.getTime(),
        `token ends ${minted.body.data.expires_at}, key ${keyEnds.toISOString()}`,
      );
      assert.ok(ends > keyEnds.getTime() - 2_000, `token ends ${minted.body.data.expires_at}, too early`);
      assert.equal((await account(minted.body.data.token)).status, 200);
      // A shorter expires_in than the key has left is kept.
      const short = await mint(key, { expires_in: 30 });
      const shortEnds = Date.parse(short.body.data.expires_at) - Date.now();
      assert.ok(shortEnds > 28_000 && shortEnds <= 30_000, `expires_in 30 gave ${shortEnds} ms`);
    });

    test('a key in its last second mints no token: 401 api_key_expired, not a token refused as given', async () => {
      // Ends 900 ms into a second two seconds on; minted once that second has begun.
      const second = Math.floor(Date.now() / 1000) + 2;
      const { key } = await server.createKey({
        name: 'last-second',
        environment: 'test',
        expires_at: new Date(second * 1000 + 900).toISOString(),
      });
      await new Promise((resolve) => setTimeout(resolve, second * 1000 + 50 - Date.now()));
      const minted = await mint(key);
      assert.equal(minted.status, 401, minted.text);
      assert.equal(minted.body.code, 'api_key_expired');
    });

    test("a rolled-away secret mints tokens that end with its grace; the new secret's are not cut", async () => {
      const k = await server.createKey({ name: 'rolled', environment: 'test' });
      const rolled = await server.admin('POST', `/admin/v1/keys/${k.id}/roll`, { grace_seconds: 120 });
      assert.equal(rolled.status, 200, rolled.text);
      const graceEnds = Date.parse(rolled.body.data.previous_secret_expires_at);
      const old = await mint(k.key, { expires_in: 3600 });
      assert.equal(old.status, 201, old.text);
      const oldEnds = Date.parse(old.body.data.expires_at);
      assert.ok(
        oldEnds <= graceEnds && oldEnds > graceEnds - 2_000,
        `old secret's token ends ${old.body.data.expires_at}`,
      );
      assert.equal((await account(old.body.data.token)).status, 200);
      const fresh = await mint(rolled.body.data.key, { expires_in: 3600 });
      const freshEnds = Date.parse(fresh.body.data.expires_at) - Date.now();
      assert.ok(freshEnds > 3_590_000, `new secret's token ends in ${freshEnds} ms`);
    });
  });
}

test('the OpenAPI document says a token is cut short to its key', async () => {
  const server = await startTestServer('sqlite');
  try {
    const document = await server.request('GET', '/docs/openapi.json');
    assert.equal(document.status, 200);
    const schema = document.body.paths['/api/v1/tokens'].post.requestBody.content['application/json'].schema;
    assert.match(schema.properties.expires_in.description, /cut short to the key's expires_at/);
  } finally {
    await server.close();
  }
});
