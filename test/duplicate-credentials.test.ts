import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../src/app.ts';
import { generateSecret } from '../src/infra/crypto/token-format.ts';
import { databaseKinds } from './helpers/database.ts';
import { countRows, ordersSchema, startTestServer, type TestServer } from './helpers/server.ts';

/**
 * A credential header sent twice (Node keeps the first Authorization and joins X-API-Keys into
 * "k1, k2"), blank or not, is refused as two credentials on every API, writes nothing, and is no
 * guessed key for the brute-force guard.
 */

interface Answer {
  status: number;
  body: { success?: boolean; code?: string; error?: string; request_id?: string };
  text: string;
}

/** Node's client sends an array value as one header line per entry; `from` is the client's address. */
function send(
  url: string,
  method: string,
  headers: Record<string, string | string[]>,
  options: { body?: string; from?: string } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method, headers, localAddress: options.from }, (res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => {
        text += chunk.toString();
      });
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, body: text === '' ? {} : JSON.parse(text), text }),
      );
    });
    req.on('error', reject);
    req.setTimeout(15_000, () => req.destroy(new Error('request hung')));
    req.end(options.body);
  });
}

const mask = (text: string) => text.replace(/req_[A-Za-z0-9]+/g, 'req_*');
const json = { 'content-type': 'application/json' };

for (const kind of databaseKinds) {
  describe(`a credential header sent twice, on ${kind}`, () => {
    let server: TestServer;
    /** The same installation with the data API's fast path off: every call goes through Fastify. */
    let slow: FastifyInstance;
    let slowUrl: string;
    let key: string;
    let other: string;
    let recordId: string;

    /** Every way of sending one credential header twice, blank or not. */
    const twice = (): Array<Record<string, string[]>> => [
      { 'x-api-key': [key, key] },
      { 'x-api-key': [key, other] },
      { 'x-api-key': ['', key] },
      { 'x-api-key': [key, ''] },
      { 'x-api-key': ['', ''] },
      { 'x-api-key': [' ', ' '] },
      { authorization: [`Bearer ${key}`, `Bearer ${key}`] },
      { authorization: [`Bearer ${key}`, ''] },
      { authorization: ['', ''] },
      { authorization: [' ', ' '] },
    ];

    function assertTwoCredentials(res: Answer, label: string): void {
      assert.equal(res.status, 401, `${label}: ${res.text}`);
      assert.equal(res.body.success, false, label);
      assert.equal(res.body.code, 'invalid_api_key', label);
      assert.match(res.body.error ?? '', /Send one credential/, label);
      assert.match(res.body.request_id ?? '', /^req_/, label);
    }

    before(async () => {
      server = await startTestServer(kind, { GATEHOUSE_AUTH_FAILURE_LIMIT: '3' });
      await server.createEndpoint({ slug: 'orders', name: 'Orders', schema: ordersSchema });
      key = (await server.createKey({ name: 'k', environment: 'test' })).key;
      other = (await server.createKey({ name: 'other', environment: 'test' })).key;
      const created = await server.admin('POST', '/admin/v1/apps', {
        slug: 'dup',
        name: 'Dup',
        routes: [
          {
            method: 'GET',
            path: '/open',
            auth: 'public',
            steps: [{ name: 'out', type: 'respond', body: "'open'" }],
          },
          {
            method: 'GET',
            path: '/key',
            auth: 'apiKey',
            steps: [{ name: 'out', type: 'respond', body: "'key'" }],
          },
          {
            method: 'POST',
            path: '/orders',
            steps: [{ name: 'order', type: 'create', endpoint: 'orders', data: 'body' }],
          },
        ],
      });
      assert.equal(created.status, 201, created.text);
      slow = buildApp(
        { ...server.services, config: { ...server.services.config, fastPath: false } },
        { logger: false },
      );
      await slow.listen({ port: 0, host: '127.0.0.1' });
      const address = slow.server.address();
      slowUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
      recordId = (
        await server.request('POST', '/api/v1/data/orders', { key, json: { order_id: 'A-1', amount: 1 } })
      ).body.id;
    });

    after(async () => {
      await slow.close();
      await server.close();
    });

    test('data API: create, GET by id and list are refused alike on the fast path and through Fastify; nothing is written', async () => {
      // The key and the endpoint are cached now: a call with the header once takes the fast path.
      const once = await send(`${server.url}/api/v1/data/orders/${recordId}`, 'GET', { 'x-api-key': key });
      assert.equal(once.status, 200, once.text);
      const before = await countRows(server, 'records');
      const calls = [
        ['POST', '/api/v1/data/orders', JSON.stringify({ order_id: 'DUP-1', amount: 1 })],
        ['GET', `/api/v1/data/orders/${recordId}`, undefined],
        ['GET', '/api/v1/data/orders', undefined],
      ] as const;
      for (const headers of twice()) {
        for (const [method, path, body] of calls) {
          const label = `${method} ${path} ${JSON.stringify(headers)}`;
          const fast = await send(`${server.url}${path}`, method, { ...headers, ...json }, { body });
          const viaFastify = await send(`${slowUrl}${path}`, method, { ...headers, ...json }, { body });
          assertTwoCredentials(fast, label);
          assert.deepEqual(
            { status: fast.status, body: mask(fast.text) },
            { status: viaFastify.status, body: mask(viaFastify.text) },
            label,
          );
        }
      }
      assert.equal(await countRows(server, 'records'), before);
    });

    test('App routes: public, key and writing routes are refused; nothing is written', async () => {
      const before = await countRows(server, 'records');
      for (const headers of twice()) {
        const label = JSON.stringify(headers);
        for (const [method, path, body] of [
          ['GET', '/open?environment=test', undefined],
          ['GET', '/key', undefined],
          ['POST', '/orders', JSON.stringify({ order_id: 'DUP-2', amount: 1 })],
        ] as const) {
          const res = await send(
            `${server.url}/api/v1/apps/dup${path}`,
            method,
            { ...headers, ...json },
            { body },
          );
          assertTwoCredentials(res, `${method} ${path} ${label}`);
        }
      }
      assert.equal(await countRows(server, 'records'), before);
      // Once, the same key is served (the app is a draft: a test key runs it).
      const once = await send(`${server.url}/api/v1/apps/dup/key`, 'GET', { 'x-api-key': key });
      assert.equal(once.status, 200, once.text);
    });

    test('management API: Authorization twice is refused, blank or not, beside a session too; nothing is made', async () => {
      const signedIn = await server.request('POST', '/admin/v1/session', {
        json: { email: 'owner@example.com', password: 'correct horse battery' },
      });
      assert.equal(signedIn.status, 200, signedIn.text);
      const cookie = `gatehouse_session=${/gatehouse_session=([^;]+)/.exec(signedIn.headers.get('set-cookie') ?? '')?.[1]}`;
      const csrf = signedIn.body.data.csrf_token as string;
      const keysBefore = (await server.admin('GET', '/admin/v1/keys')).body.data.length;
      const bearer = `Bearer ${server.token}`;
      const cases: Array<Record<string, string | string[]>> = [
        { authorization: [bearer, bearer] },
        { authorization: [bearer, 'Bearer gm_someone_else'] },
        { authorization: [bearer, ''] },
        { authorization: ['', ''], cookie, 'x-csrf-token': csrf },
        { authorization: [' ', bearer], cookie, 'x-csrf-token': csrf },
      ];
      for (const headers of cases) {
        const label = JSON.stringify(headers);
        const listed = await send(`${server.url}/admin/v1/keys`, 'GET', headers);
        const made = await send(
          `${server.url}/admin/v1/keys`,
          'POST',
          { ...headers, ...json },
          {
            body: JSON.stringify({ name: 'twice', environment: 'test' }),
          },
        );
        for (const res of [listed, made]) {
          assert.equal(res.status, 401, `${label}: ${res.text}`);
          assert.equal(res.body.code, 'unauthorized', label);
          assert.match(res.body.error ?? '', /once/, label);
          assert.match(res.body.request_id ?? '', /^req_/, label);
        }
      }
      assert.equal((await server.admin('GET', '/admin/v1/keys')).body.data.length, keysBefore);
    });

    test('no header sent twice is counted as a guessed key; guessed keys still are', async () => {
      const from = '127.0.0.21';
      // Two blank Authorization headers, more often than the limit of 3 guesses, then every other way.
      const sent = [...Array.from({ length: 4 }, () => ({ authorization: ['', ''] })), ...twice()];
      for (const headers of sent) {
        const label = JSON.stringify(headers);
        for (const url of [
          `${server.url}/api/v1/data/orders`,
          `${slowUrl}/api/v1/data/orders`,
          `${server.url}/api/v1/apps/dup/open`,
        ]) {
          const res = await send(url, 'GET', headers, { from });
          assert.notEqual(res.body.code, 'too_many_failed_attempts', `${url} ${label}: counted as guesses`);
          assert.equal(res.status, 401, `${url} ${label}`);
        }
      }
      // Far past the limit of 3, yet the address is not blocked: a key this process has not seen
      // (so not let through a block as a cached good key) is served.
      const fresh = (await server.createKey({ name: 'fresh', environment: 'test' })).key;
      const served = await send(`${server.url}/api/v1/data/orders`, 'GET', { 'x-api-key': fresh }, { from });
      assert.equal(served.status, 200, served.text);
      // Real guesses from that address still count, and block it.
      for (let i = 0; i < 3; i++) {
        const guess = await send(
          `${server.url}/api/v1/data/orders`,
          'GET',
          { 'x-api-key': generateSecret('gk_test') },
          { from },
        );
        assert.equal(guess.body.code, 'invalid_api_key');
      }
      const blocked = await send(
        `${server.url}/api/v1/data/orders`,
        'GET',
        { 'x-api-key': generateSecret('gk_test') },
        { from },
      );
      assert.equal(blocked.status, 429);
      assert.equal(blocked.body.code, 'too_many_failed_attempts');
    });
  });
}
