import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { UNKNOWN_KID_RELOAD_MS } from '../src/tokens/token-service.ts';
import { databaseKinds } from './helpers/database.ts';
import { startPeerServer, startTestServer, type TestServer } from './helpers/server.ts';

const kid = (token: string) => JSON.parse(Buffer.from(token.split('.')[0] ?? '', 'base64url').toString()).kid;

/** `token` with its header naming key `kid` instead (its signature no longer matches: never valid). */
function naming(token: string, kid: string): string {
  const [, payload, signature] = token.split('.');
  const header = Buffer.from(JSON.stringify({ alg: 'HS256', kid })).toString('base64url');
  return `${header}.${payload}.${signature}`;
}

const account = (url: string, token: string) =>
  fetch(`${url}/api/v1/account`, { headers: { authorization: `Bearer ${token}` } });

async function mint(server: TestServer, key: string): Promise<string> {
  const res = await server.request('POST', '/api/v1/tokens', { key, json: {} });
  assert.equal(res.status, 201, res.text);
  return res.body.data.token;
}

for (const kind of databaseKinds) {
  describe(`JWT signing keys (${kind})`, () => {
    let server: TestServer;
    let key: string;
    /** Reads of the signing keys from the database: each is decrypted once. */
    let reads = 0;

    before(async () => {
      // Failed credentials are not refused per address here: an attacker has many addresses.
      server = await startTestServer(kind, { GATEHOUSE_AUTH_FAILURE_LIMIT: '1000000' });
      key = (await server.createKey({ name: 'k', environment: 'test' })).key;
      const { encryptor } = server.services;
      const decrypt = encryptor.decrypt.bind(encryptor);
      encryptor.decrypt = (sealed) => {
        const plain = decrypt(sealed);
        if (plain.includes('"kid"')) reads++;
        return plain;
      };
    });
    after(() => server.close());

    test('tokens naming unknown keys read the signing keys at most once a second, however many', async () => {
      const token = await mint(server, key);
      const before = reads;
      const started = Date.now();
      const answers = await Promise.all(
        Array.from({ length: 100 }, () => account(server.url, naming(token, randomBytes(8).toString('hex')))),
      );
      const elapsed = Date.now() - started;
      for (const answer of answers) {
        assert.equal(answer.status, 401);
        assert.equal(((await answer.json()) as { code: string }).code, 'invalid_api_key');
      }
      // Each read waits for the second after the one before: the burst is answered by one or two.
      const allowed = Math.ceil(elapsed / UNKNOWN_KID_RELOAD_MS) + 1;
      assert.ok(reads - before <= allowed, `${reads - before} reads in ${elapsed} ms (at most ${allowed})`);
      assert.ok(reads - before >= 1, 'the keys are read again before an unknown key is refused');
      // A token of a known key is verified from the cache.
      const known = reads;
      assert.equal((await account(server.url, token)).status, 200);
      assert.equal(reads, known);
    });

    test('a key rotated in this process verifies at once', async () => {
      const rotated = await server.admin('POST', '/admin/v1/tokens/rotate-signing-key');
      assert.equal(rotated.status, 200, rotated.text);
      const token = await mint(server, key);
      assert.equal(kid(token), rotated.body.data.kid);
      assert.equal((await account(server.url, token)).status, 200);
    });
  });
}

describe('JWT signing keys rotated by another process (postgres)', {
  skip: !databaseKinds.includes('postgres'),
}, () => {
  const prefix = `test-${randomBytes(4).toString('hex')}:`;
  const withRedis = { REDIS_URL: 'redis://127.0.0.1:6379', GATEHOUSE_REDIS_PREFIX: prefix };
  after(async () => {
    const redis = new Redis(withRedis.REDIS_URL);
    const left = await redis.keys(`${prefix}*`);
    if (left.length > 0) await redis.del(...left);
    redis.disconnect();
  });

  for (const [label, env] of [
    ['told over Redis', withRedis],
    ['not told (no bus between them): found by reading the keys again', {}],
  ] as const) {
    test(`a token of a key just rotated on one server verifies on the other: ${label}`, async () => {
      const a = await startTestServer('postgres', env);
      const b = await startPeerServer(a, env);
      try {
        const { key } = await a.createKey({ name: 'k', environment: 'test' });
        // B has the keys cached, then A rotates and signs with the new one.
        assert.equal((await account(b.url, await mint(a, key))).status, 200);
        const rotated = await a.admin('POST', '/admin/v1/tokens/rotate-signing-key');
        assert.equal(rotated.status, 200, rotated.text);
        const token = await mint(a, key);
        assert.equal(kid(token), rotated.body.data.kid);
        const res = await account(b.url, token);
        assert.equal(res.status, 200, await res.text());
      } finally {
        await b.close();
        await a.close();
      }
    });
  }
});
