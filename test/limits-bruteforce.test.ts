import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { generateSecret } from '../src/infra/crypto/token-format.ts';
import { databaseKinds } from './helpers/database.ts';
import { ordersSchema, startTestServer, type TestServer } from './helpers/server.ts';

interface Answer {
  status: number;
  headers: Record<string, unknown>;
  body: { code?: string; data?: { token: string } };
}

/** A request from a chosen loopback address, so that tests can be two different clients. */
function sendFrom(
  localAddress: string,
  method: string,
  url: string,
  headers: Record<string, string>,
  body?: string,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method, localAddress, headers }, (res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => {
        text += chunk.toString();
      });
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: JSON.parse(text) }),
      );
    });
    req.on('error', reject);
    req.setTimeout(15_000, () => req.destroy(new Error('request hung')));
    req.end(body);
  });
}

const getFrom = (localAddress: string, url: string, key: string) =>
  sendFrom(localAddress, 'GET', url, { authorization: `Bearer ${key}` });

/** A POST of `{}` from a chosen loopback address. */
const postFrom = (localAddress: string, url: string, key: string) =>
  sendFrom(
    localAddress,
    'POST',
    url,
    { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    '{}',
  );

for (const kind of databaseKinds) {
  describe(`brute-force protection on ${kind}`, () => {
    let server: TestServer;
    let valid: string;
    before(async () => {
      // A short cache: a key's cache entry expires between a partner's requests.
      server = await startTestServer(kind, {
        GATEHOUSE_AUTH_FAILURE_LIMIT: '4',
        GATEHOUSE_CACHE_TTL_MS: '300',
      });
      await server.createEndpoint({ slug: 'orders', name: 'Orders', schema: ordersSchema });
      valid = (await server.createKey({ name: 'ok', environment: 'test' })).key;
    });
    after(() => server.close());

    test('invalid keys from one address are slowed, then 429 before any lookup; other addresses are not affected', async () => {
      const url = `${server.url}/api/v1/data/orders`;
      const attacker = '127.0.0.3';
      // Well-formed keys with valid checksums that do not exist: each would cost a lookup.
      const guesses = Array.from({ length: 4 }, () => generateSecret('gk_test'));
      const elapsed: number[] = [];
      for (const guess of guesses) {
        const started = performance.now();
        const res = await getFrom(attacker, url, guess);
        elapsed.push(performance.now() - started);
        assert.equal(res.status, 401);
        assert.equal(res.body.code, 'invalid_api_key');
      }
      // Past half the limit, failures are answered at least 200 ms, 400 ms later (a lower bound only).
      assert.ok((elapsed[2] ?? 0) >= 150, `3rd failure was not slowed: ${elapsed.join()}`);
      assert.ok((elapsed[3] ?? 0) >= 350, `4th failure was not slowed more: ${elapsed.join()}`);

      const blocked = await getFrom(attacker, url, generateSecret('gk_test'));
      assert.equal(blocked.status, 429);
      assert.equal(blocked.body.code, 'too_many_failed_attempts');
      assert.ok(Number(blocked.headers['retry-after']) >= 1);
      // A valid key this process has not seen yet waits out the block too: nothing is looked up.
      const alsoBlocked = await getFrom(attacker, url, valid);
      assert.equal(alsoBlocked.status, 429);

      const other = await getFrom('127.0.0.4', url, valid);
      assert.equal(other.status, 200);
      const otherWrong = await getFrom('127.0.0.4', url, 'gk_test_nonsense');
      assert.equal(otherWrong.status, 401);

      // Once known good (cached), that key works from the blocked address: one client's guesses
      // cannot lock a partner's working key out from behind the same NAT. Guesses stay blocked,
      // and so does a key that was good but is revoked now.
      assert.equal((await getFrom(attacker, url, valid)).status, 200);
      assert.equal((await getFrom(attacker, url, generateSecret('gk_test'))).status, 429);
      // Still so once its cache entry has expired (the key was accepted lately and is unchanged).
      await new Promise((resolve) => setTimeout(resolve, 500));
      assert.equal((await getFrom(attacker, url, valid)).status, 200);
      const doomed = await server.createKey({ name: 'doomed', environment: 'test' });
      assert.equal((await getFrom('127.0.0.4', url, doomed.key)).status, 200);
      assert.equal((await server.admin('POST', `/admin/v1/keys/${doomed.id}/revoke`)).status, 200);
      const revoked = await getFrom(attacker, url, doomed.key);
      assert.equal(revoked.status, 429);
      assert.equal(revoked.body.code, 'too_many_failed_attempts');
    });

    test('a token minted from a good key passes a blocked address, as the key does; a guessed one does not', async () => {
      const url = `${server.url}/api/v1/data/orders`;
      const attacker = '127.0.0.5';
      // A partner behind the same address (a shared NAT) that sends short-lived tokens, as a browser does.
      const key = await server.createKey({ name: 'browser', environment: 'test' });
      const minted = await server.request('POST', '/api/v1/tokens', { key: key.key, json: {} });
      assert.equal(minted.status, 201, JSON.stringify(minted.body));
      const token = (minted.body as { data: { token: string } }).data.token;
      for (let i = 0; i < 4; i++) await getFrom(attacker, url, generateSecret('gk_test'));
      assert.equal((await getFrom(attacker, url, generateSecret('gk_test'))).status, 429);

      // The token minted before the block, and one minted once it began (with the key, which passes).
      assert.equal((await getFrom(attacker, url, token)).status, 200);
      const fresh = await postFrom(attacker, `${server.url}/api/v1/tokens`, key.key);
      assert.equal(fresh.status, 201, JSON.stringify(fresh.body));
      assert.equal((await getFrom(attacker, url, fresh.body.data?.token ?? '')).status, 200);
      // A token this installation did not sign stays blocked, and so does a good one once its key is revoked.
      const [head, payload] = token.split('.');
      assert.equal((await getFrom(attacker, url, `${head}.${payload}.forged`)).status, 429);
      assert.equal((await server.admin('POST', `/admin/v1/keys/${key.id}/revoke`)).status, 200);
      const revoked = await getFrom(attacker, url, token);
      assert.equal(revoked.status, 429);
      assert.equal(revoked.body.code, 'too_many_failed_attempts');
    });

    test('a missing key is not counted as a guess, nor an empty credential header', async () => {
      const sent: Array<Record<string, string>> = [
        {},
        { authorization: '' },
        { authorization: ' ' },
        { 'x-api-key': '' },
      ];
      for (const headers of sent) {
        for (let i = 0; i < 6; i++) {
          const res = await server.request('GET', '/api/v1/data/orders', {
            headers: { 'x-forwarded-for': '1.2.3.4', ...headers },
          });
          assert.equal(res.status, 401, JSON.stringify(headers));
          assert.equal(res.body.code, 'missing_api_key', JSON.stringify(headers));
        }
      }
      assert.equal((await server.request('GET', '/api/v1/data/orders', { key: valid })).status, 200);
    });

    test('"Authorization: Bearer" with nothing after it is a missing key, not a guess, on both paths', async () => {
      const url = `${server.url}/api/v1/data/orders`;
      const client = '127.0.0.6';
      const json = { 'content-type': 'application/json' };
      const order = JSON.stringify({ order_id: 'e', amount: 1 });
      // Twice the limit of 4: a list (Fastify's path) and a plain create (the fast path's), each
      // with the scheme alone, trailing white space or none, in either case.
      for (const authorization of ['Bearer ', 'Bearer', 'bearer \t', 'BEARER  ']) {
        const listed = await sendFrom(client, 'GET', url, { authorization });
        assert.equal(listed.status, 401, `GET with ${JSON.stringify(authorization)}`);
        assert.equal(listed.body.code, 'missing_api_key', `GET with ${JSON.stringify(authorization)}`);
        const created = await sendFrom(client, 'POST', url, { authorization, ...json }, order);
        assert.equal(created.status, 401, `POST with ${JSON.stringify(authorization)}`);
        assert.equal(created.body.code, 'missing_api_key', `POST with ${JSON.stringify(authorization)}`);
      }
      // Not blocked: a key this process has never seen (so not let through a block) works, and a
      // guess is a 401, not a 429. Beside a key, the empty bearer is no second credential.
      const fresh = (await server.createKey({ name: 'after-empty', environment: 'test' })).key;
      const created = await sendFrom(
        client,
        'POST',
        url,
        { authorization: 'Bearer ', 'x-api-key': fresh, ...json },
        order,
      );
      assert.equal(created.status, 202, JSON.stringify(created.body));
      const guess = await getFrom(client, url, generateSecret('gk_test'));
      assert.equal(guess.status, 401, 'a guess after the empty bearers is its first failure');
      assert.equal(guess.body.code, 'invalid_api_key', 'a guess is still refused as one');
    });
  });
}
