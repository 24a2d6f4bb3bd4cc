import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../src/app.ts';
import { databaseKinds } from './helpers/database.ts';
import { ordersSchema, startTestServer, type TestServer } from './helpers/server.ts';
import { awayFromMinuteEdge } from './helpers/until.ts';

/**
 * The data API's fast path (src/records/fast-path.ts) must answer exactly as the Fastify routes
 * do. Two servers share one installation: the test server (fast path on) and a second app over
 * the same services with the fast path off. Each case is sent to both, with keys of the same
 * standing, and the answers are compared: status, body (ids masked), and every header.
 */

interface Answer {
  status: number;
  body: string;
  headers: Record<string, string>;
}

const mask = (text: string) =>
  text
    .replace(/req_[A-Za-z0-9]+/g, 'req_*')
    .replace(/rec_[A-Za-z0-9]+/g, 'rec_*')
    .replace(/\d{4}-\d\d-\d\dT[\d:.]+Z/g, 'T');

async function listen(app: FastifyInstance): Promise<string> {
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  return `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
}

async function send(
  base: string,
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: string | Buffer,
): Promise<Answer> {
  const res = await fetch(`${base}${path}`, { method, headers, body });
  const text = await res.text();
  const out: Record<string, string> = {};
  for (const [name, value] of res.headers) {
    if (name === 'date') continue;
    out[name] = name === 'request-id' || name === 'original-request-id' ? mask(value) : value;
  }
  // A reset time may tick over between the two calls: compare its presence, not its value.
  if (out['ratelimit-reset'] !== undefined) out['ratelimit-reset'] = 'n';
  if (out.ratelimit !== undefined) out.ratelimit = out.ratelimit.replace(/t=\d+/, 't=n');
  if (out['retry-after'] !== undefined) out['retry-after'] = 'n';
  return { status: res.status, body: mask(text), headers: out };
}

for (const kind of databaseKinds) {
  describe(`data API fast path on ${kind}`, () => {
    let server: TestServer;
    let slow: FastifyInstance;
    let fast: FastifyInstance;
    let fastUrl: string;
    let slowUrl: string;
    let fastHits = 0;
    /** Each test key exists twice, with the same settings: [fast server's, slow server's]. */
    const keys: Record<string, [string, string]> = {};
    let recordId: string;
    let liveRecordId: string;

    async function pair(name: string, body: Record<string, unknown>): Promise<void> {
      const a = await server.createKey({ name: `${name}-fast`, ...body });
      const b = await server.createKey({ name: `${name}-slow`, ...body });
      keys[name] = [a.key, b.key];
    }

    /**
     * The same call on both servers (each with its own key of that kind); both answers. A pair of
     * paths: the fast server's, then the slow one's (a record each, for a delete).
     */
    async function both(
      method: string,
      path: string | [string, string],
      options: { key?: string; headers?: Record<string, string>; body?: string | Buffer } = {},
    ): Promise<[Answer, Answer]> {
      const [fastKey, slowKey] = options.key ? (keys[options.key] as [string, string]) : ['', ''];
      const headers = (key: string) => ({
        ...(key ? { authorization: `Bearer ${key}` } : {}),
        ...options.headers,
      });
      const [fastPath, slowPath] = typeof path === 'string' ? [path, path] : path;
      const fastAnswer = await send(fastUrl, method, fastPath, headers(fastKey), options.body);
      const slowAnswer = await send(slowUrl, method, slowPath, headers(slowKey), options.body);
      return [fastAnswer, slowAnswer];
    }

    async function same(
      method: string,
      path: string | [string, string],
      options: { key?: string; headers?: Record<string, string>; body?: string | Buffer } = {},
    ): Promise<Answer> {
      const [fastAnswer, slowAnswer] = await both(method, path, options);
      assert.deepEqual(fastAnswer, slowAnswer, `${method} ${path}`);
      return fastAnswer;
    }

    const json = { 'content-type': 'application/json' };

    /** How many records the installation holds, both paths' together. */
    async function recordCount(): Promise<number> {
      const row = await server.services.database.db
        .selectFrom('records')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .executeTakeFirstOrThrow();
      return Number(row.n);
    }

    /** A new record of `orders`, made through the server at `base` with its test key. */
    async function newRecord(base: string): Promise<string> {
      const key = base === fastUrl ? keys.test?.[0] : keys.test?.[1];
      const res = await fetch(`${base}/api/v1/data/orders`, {
        method: 'POST',
        headers: { ...json, authorization: `Bearer ${key}` },
        body: JSON.stringify({ order_id: 'D-1', amount: 1 }),
      });
      assert.equal(res.status, 202, 'record made');
      return ((await res.json()) as { id: string }).id;
    }

    before(async () => {
      server = await startTestServer(kind);
      const orders = { slug: 'orders', name: 'Orders', schema: ordersSchema, max_body_bytes: 512 };
      await server.createEndpoint(orders);
      await server.createEndpoint({ slug: 'notes', name: 'Notes', schema: { type: 'object' } });
      await server.admin('POST', '/admin/v1/endpoints/orders/deploy');
      await pair('test', { environment: 'test' });
      await pair('live', { environment: 'live' });
      await pair('limited', { environment: 'test', limits: { per_minute: 3 } });
      await pair('notesOnly', { environment: 'test', scopes: ['notes:read', 'notes:write'] });
      slow = buildApp(
        { ...server.services, config: { ...server.services.config, fastPath: false } },
        { logger: false },
      );
      slowUrl = await listen(slow);
      fast = buildApp(server.services, { logger: false });
      // Requests Fastify sees on the fast server: the fast path's own answers never reach it.
      fast.addHook('onRequest', (_request, _reply, done) => {
        fastHits++;
        done();
      });
      fastUrl = await listen(fast);
      const created = await server.request('POST', '/api/v1/data/orders', {
        key: keys.test?.[0],
        json: { order_id: 'A-1', amount: 1 },
      });
      recordId = created.body.id;
      const live = await server.request('POST', '/api/v1/data/orders', {
        key: keys.live?.[0],
        json: { order_id: 'L-1', amount: 2 },
      });
      liveRecordId = live.body.id;
    });

    after(async () => {
      await slow.close();
      await fast.close();
      await server.close();
    });

    test('the fast path answers plain reads and creates itself, and answers them as Fastify does', async () => {
      // Warm both paths' caches (key and endpoint), then count what reaches Fastify.
      await both('GET', `/api/v1/data/orders/${recordId}`, { key: 'test' });
      const hits = fastHits;
      const read = await same('GET', `/api/v1/data/orders/${recordId}`, { key: 'test' });
      assert.equal(read.status, 200);
      assert.match(read.body, /"order_id":"A-1"/);
      const made = await same('POST', '/api/v1/data/orders', {
        key: 'test',
        headers: json,
        body: JSON.stringify({ order_id: 'B-1', amount: 3 }),
      });
      assert.equal(made.status, 202);
      assert.equal(made.body, '{"success":true,"id":"rec_*","message":"Request queued"}');
      // X-API-Key works the same way.
      const viaHeader = await both('GET', `/api/v1/data/orders/${recordId}`, {
        headers: { 'x-api-key': keys.test?.[0] as string },
      });
      assert.equal(viaHeader[0].status, 200);
      const replaced = await same('PUT', `/api/v1/data/orders/${recordId}`, {
        key: 'test',
        headers: json,
        body: JSON.stringify({ order_id: 'A-1', amount: 5 }),
      });
      assert.equal(replaced.status, 202);
      assert.equal(replaced.body, '{"success":true,"id":"rec_*","message":"Request queued"}');
      const doomed = await Promise.all([newRecord(fastUrl), newRecord(slowUrl)]);
      const deleted = await same(
        'DELETE',
        doomed.map((id) => `/api/v1/data/orders/${id}`) as [string, string],
        {
          key: 'test',
        },
      );
      assert.equal(deleted.status, 202);
      assert.equal(fastHits, hits, 'the fast path answered without Fastify');
    });

    test('writes with an Idempotency-Key are answered by the fast path as Fastify answers them', async () => {
      const keyed = (key: string) => ({ ...json, 'idempotency-key': key });
      const body = JSON.stringify({ order_id: 'I-1', amount: 2 });
      const hits = fastHits;
      // Refused before the write: nothing stored, so the key is still free for a good body.
      const bad = await same('POST', '/api/v1/data/orders', {
        key: 'test',
        headers: keyed('create-1'),
        body: JSON.stringify({ order_id: 'I-1' }),
      });
      assert.equal(bad.status, 400, bad.body);
      assert.match(bad.body, /"field":"amount","error":"Required field is missing"/);
      // Refused once the key was taken (a callback is checked with the write): the key is let go.
      const badCallback = await same('POST', '/api/v1/data/orders', {
        key: 'test',
        headers: { ...keyed('create-1'), 'x-webhook-callback': 'ftp://example.com/hook' },
        body,
      });
      assert.equal(badCallback.status, 400, badCallback.body);
      assert.match(badCallback.body, /X-Webhook-Callback/i);
      const first = await same('POST', '/api/v1/data/orders', {
        key: 'test',
        headers: keyed('create-1'),
        body,
      });
      assert.equal(first.status, 202, first.body);
      assert.equal(first.headers['idempotent-replayed'], undefined);
      const before = await recordCount();
      // Whitespace and key order aside, the same request: the stored answer again.
      for (const again of [body, '{ "amount": 2, "order_id": "I-1" }']) {
        const replay = await same('POST', '/api/v1/data/orders', {
          key: 'test',
          headers: keyed('create-1'),
          body: again,
        });
        assert.equal(replay.status, 202);
        assert.equal(replay.body, first.body);
        assert.equal(replay.headers['idempotent-replayed'], 'true');
        assert.equal(replay.headers['original-request-id'], 'req_*');
      }
      const reused = await same('POST', '/api/v1/data/orders', {
        key: 'test',
        headers: keyed('create-1'),
        body: JSON.stringify({ order_id: 'I-2', amount: 2 }),
      });
      assert.equal(reused.status, 422);
      assert.match(reused.body, /"code":"idempotency_key_reused"/);
      assert.match(reused.body, /Already used with a different request body, path or callback/);
      assert.equal(await recordCount(), before, 'replays and refusals wrote nothing');
      // A replace and a delete, each first and then repeated.
      const ids = await Promise.all([newRecord(fastUrl), newRecord(slowUrl)]);
      const paths = ids.map((id) => `/api/v1/data/orders/${id}`) as [string, string];
      const replace = {
        key: 'test',
        headers: keyed('replace-1'),
        body: JSON.stringify({ order_id: 'I-3', amount: 7 }),
      };
      assert.equal((await same('PUT', paths, replace)).status, 202);
      const replaced = await same('PUT', paths, replace);
      assert.equal(replaced.headers['idempotent-replayed'], 'true');
      const remove = { key: 'test', headers: { 'idempotency-key': 'delete-1' } };
      assert.equal((await same('DELETE', paths, remove)).status, 202);
      const removed = await same('DELETE', paths, remove);
      assert.equal(removed.status, 202);
      assert.equal(removed.headers['idempotent-replayed'], 'true');
      // The same key on another path is another request.
      const elsewhere = await same('DELETE', paths, {
        key: 'test',
        headers: { 'idempotency-key': 'replace-1' },
      });
      assert.equal(elsewhere.status, 422);
      assert.equal(fastHits, hits, 'the fast path answered every keyed write without Fastify');
      const stored = await server.services.database.db
        .selectFrom('idempotency_keys')
        .select(['idempotency_key'])
        .where('idempotency_key', 'in', ['create-1', 'replace-1', 'delete-1'])
        .execute();
      assert.deepEqual(
        stored.map((row) => row.idempotency_key).sort(),
        ['create-1', 'create-1', 'delete-1', 'delete-1', 'replace-1', 'replace-1'],
        'each key stored once per API key',
      );
    });

    test('a malformed Idempotency-Key is left to Fastify, and answered alike', async () => {
      for (const key of ['""', 'x'.repeat(256), 'a\tb']) {
        const refused = await same('POST', '/api/v1/data/orders', {
          key: 'test',
          headers: { ...json, 'idempotency-key': key },
          body: JSON.stringify({ order_id: 'M-1', amount: 1 }),
        });
        assert.equal(refused.status, 400, refused.body);
        assert.match(refused.body, /"field":"Idempotency-Key"/);
      }
    });

    test('an Idempotency-Key repeated with another callback is 422 on either path, and writes nothing', async () => {
      const body = '{"amount":4,"order_id":"CB-I"}';
      const callback = (url: string, extra: Record<string, string> = {}) => ({
        ...json,
        'idempotency-key': 'callback-1',
        'x-webhook-callback': url,
        ...extra,
      });
      const first = await same('POST', '/api/v1/data/orders', {
        key: 'test',
        headers: callback('https://hooks.example.com/a'),
        body,
      });
      assert.equal(first.status, 202, first.body);
      const before = await recordCount();
      // The same callback, written another way and with a rotated auth value: the same request.
      const replay = await same('POST', '/api/v1/data/orders', {
        key: 'test',
        headers: callback('HTTPS://hooks.example.com:443/a', { 'x-webhook-auth': 'Bearer rotated' }),
        body,
      });
      assert.equal(replay.status, 202);
      assert.equal(replay.body, first.body);
      assert.equal(replay.headers['idempotent-replayed'], 'true');
      const others: Record<string, string>[] = [
        callback('https://hooks.example.com/b'),
        callback('https://hooks.example.com/a', { 'x-webhook-auth-header': 'X-Token' }),
        { ...json, 'idempotency-key': 'callback-1' },
      ];
      for (const headers of others) {
        const reused = await same('POST', '/api/v1/data/orders', { key: 'test', headers, body });
        assert.equal(reused.status, 422, JSON.stringify(headers));
        assert.match(reused.body, /"code":"idempotency_key_reused"/);
        assert.match(reused.body, /different request body, path or callback \(X-Webhook-Callback\)/);
      }
      // Stored without a callback, then repeated with one: refused too.
      const plain = { ...json, 'idempotency-key': 'callback-2' };
      assert.equal(
        (await same('POST', '/api/v1/data/orders', { key: 'test', headers: plain, body })).status,
        202,
      );
      const added = await same('POST', '/api/v1/data/orders', {
        key: 'test',
        headers: { ...plain, 'x-webhook-callback': 'https://hooks.example.com/a' },
        body,
      });
      assert.equal(added.status, 422, added.body);
      assert.equal(await recordCount(), before + 2, 'only the two first requests wrote');
    });

    test('what the fast path replaces and deletes is changed for either path at once', async () => {
      const id = await newRecord(fastUrl);
      const put = await send(
        fastUrl,
        'PUT',
        `/api/v1/data/orders/${id}`,
        { ...json, authorization: `Bearer ${keys.test?.[0]}` },
        JSON.stringify({ order_id: 'R-2', amount: 9 }),
      );
      assert.equal(put.status, 202, put.body);
      for (const [base, key] of [
        [fastUrl, keys.test?.[0]],
        [slowUrl, keys.test?.[1]],
      ]) {
        const read = await send(base as string, 'GET', `/api/v1/data/orders/${id}`, {
          authorization: `Bearer ${key}`,
        });
        assert.match(read.body, /"data":\{"order_id":"R-2","amount":9\},"version":2,/, 'the new version');
      }
      const gone = await send(fastUrl, 'DELETE', `/api/v1/data/orders/${id}`, {
        authorization: `Bearer ${keys.test?.[0]}`,
      });
      assert.equal(gone.status, 202, gone.body);
      const after = await send(slowUrl, 'GET', `/api/v1/data/orders/${id}`, {
        authorization: `Bearer ${keys.test?.[1]}`,
      });
      assert.equal(after.status, 404, 'deleted for the other path too');
      const row = await server.services.database.db
        .selectFrom('records')
        .select('id')
        .where('id', '=', id)
        .executeTakeFirst();
      assert.equal(row, undefined);
    });

    test('replaces and deletes that fail are answered alike, and change nothing', async () => {
      const id = await newRecord(fastUrl);
      const stored = async () =>
        server.services.database.db
          .selectFrom('records')
          .select(['data', 'version'])
          .where('id', '=', id)
          .executeTakeFirstOrThrow();
      const before = await stored();
      const put = (path: string, headers: Record<string, string>, body: string | Buffer, key = 'test') =>
        same('PUT', path, { key, headers, body });
      const at = `/api/v1/data/orders/${id}`;
      const good = JSON.stringify({ order_id: 'X', amount: 1 });
      for (const [headers, body] of [
        [json, '{"order_id":'],
        [json, JSON.stringify({ order_id: 'X' })],
        [json, '[1,2]'],
        [json, ''],
        [json, JSON.stringify({ order_id: 'X'.repeat(600), amount: 1 })],
        [{ 'content-type': 'text/plain' }, good],
        [{ ...json, 'x-webhook-callback': 'ftp://example.com/hook' }, good],
      ] as Array<[Record<string, string>, string]>) {
        const answer = await put(at, headers, body);
        assert.ok(answer.status >= 400 && answer.status < 500, `${answer.status} ${answer.body}`);
      }
      for (const path of [
        '/api/v1/data/orders/rec_00000000000000000000000',
        `/api/v1/data/orders/${liveRecordId}`,
        `/api/v1/data/notes/${id}`,
        '/api/v1/data/orders/not-an-id',
        `${at}?x=1`,
      ]) {
        const replaced = await put(path, json, good);
        assert.ok(replaced.status >= 400 && replaced.status < 500, `PUT ${path}: ${replaced.status}`);
        const deleted = await same('DELETE', path, { key: 'test' });
        assert.ok(deleted.status >= 400 && deleted.status < 500, `DELETE ${path}: ${deleted.status}`);
      }
      assert.equal((await put(at, json, good, 'notesOnly')).status, 403);
      assert.equal((await same('DELETE', at, { key: 'notesOnly' })).status, 403);
      assert.equal((await same('DELETE', at)).status, 401);
      assert.deepEqual(await stored(), before, 'nothing changed');
    });

    test('what the fast path writes is stored and readable through either path', async () => {
      const created = await fetch(`${fastUrl}/api/v1/data/orders`, {
        method: 'POST',
        headers: { ...json, authorization: `Bearer ${keys.test?.[0]}` },
        body: JSON.stringify({ order_id: 'C-1', amount: 4, paid: true }),
      });
      const { id } = (await created.json()) as { id: string };
      const row = await server.services.database.db
        .selectFrom('records')
        .select(['data', 'environment'])
        .where('id', '=', id)
        .executeTakeFirstOrThrow();
      assert.deepEqual(JSON.parse(row.data), { order_id: 'C-1', amount: 4, paid: true });
      assert.equal(row.environment, 'test');
      const request = await server.services.database.db
        .selectFrom('requests')
        .select(['operation', 'status'])
        .where('record_id', '=', id)
        .executeTakeFirst();
      // Nobody to tell (no callback, no subscription): SQLite keeps no outbox row for it;
      // PostgreSQL queues one, which its outbox turns into nothing.
      if (kind === 'sqlite') assert.equal(request, undefined);
      else assert.deepEqual(request, { operation: 'create', status: 'queued' });
      const again = await send(slowUrl, 'GET', `/api/v1/data/orders/${id}`, {
        authorization: `Bearer ${keys.test?.[1]}`,
      });
      assert.equal(again.status, 200);
      assert.match(again.body, /"order_id":"C-1"/);
    });

    test('reads that fail are answered alike', async () => {
      await same('GET', '/api/v1/data/orders/rec_00000000000000000000000', { key: 'test' });
      await same('GET', `/api/v1/data/orders/${liveRecordId}`, { key: 'test' }); // other environment
      await same('GET', `/api/v1/data/notes/${recordId}`, { key: 'test' }); // other endpoint
      await same('GET', '/api/v1/data/orders/not-an-id', { key: 'test' });
      await same('GET', '/api/v1/data/nothing-here/rec_00000000000000000000000', { key: 'test' });
      await same('GET', `/api/v1/data/orders/${recordId}`, { key: 'notesOnly' }); // scope
      await same('GET', `/api/v1/data/orders/${recordId}`); // no key
      await same('GET', `/api/v1/data/orders/${recordId}`, {
        headers: { authorization: 'Bearer gh_test_notarealkey' },
      });
      await same('GET', `/api/v1/data/orders/${recordId}/`, { key: 'test' });
      await same('GET', `/api/v1/data/orders/${recordId}?x=1`, { key: 'test' });
      const live = await same('GET', `/api/v1/data/orders/${liveRecordId}`, { key: 'live' });
      assert.equal(live.status, 200);
    });

    test('creates that fail are answered alike, and write nothing', async () => {
      const before = await recordCount();
      const cases: Array<[Record<string, string>, string | Buffer]> = [
        [json, '{"order_id":'], // malformed JSON
        [json, JSON.stringify({ order_id: 'X' })], // schema: amount missing
        [json, JSON.stringify({ order_id: 'X', amount: -1, email: 'nope' })],
        [json, '[1,2]'], // not an object
        [json, '"text"'],
        [json, 'null'],
        [json, '{"__proto__":{"admin":true},"order_id":"X","amount":1}'],
        [json, Buffer.from([0x7b, 0xff, 0x7d])], // not UTF-8
        [json, `{"order_id":"X","amount":1,"n":${'['.repeat(128)}${']'.repeat(128)}}`], // too deep
        [json, JSON.stringify({ order_id: 'X'.repeat(600), amount: 1 })], // over the endpoint's 512 bytes
        [{ 'content-type': 'text/plain' }, '{"order_id":"X","amount":1}'],
        [{ 'content-type': 'application/json; charset=latin1' }, '{"order_id":"X","amount":1}'],
        [{ ...json, 'x-webhook-callback': 'ftp://example.com/hook' }, '{"order_id":"X","amount":1}'],
        [{ ...json, 'x-webhook-auth': 'secret' }, '{"order_id":"X","amount":1}'],
      ];
      for (const [headers, body] of cases) {
        const answer = await same('POST', '/api/v1/data/orders', { key: 'test', headers, body });
        assert.ok(answer.status >= 400 && answer.status < 500, `${answer.status} ${answer.body}`);
        assert.match(answer.body, /^\{"success":false,"error":"[^"]+","code":"[a-z_]+","details":\[/);
      }
      await same('POST', '/api/v1/data/orders', {
        key: 'notesOnly',
        headers: json,
        body: '{"order_id":"X","amount":1}',
      });
      await same('POST', '/api/v1/data/orders', { headers: json, body: '{"order_id":"X","amount":1}' });
      await same('POST', '/api/v1/data/orders', { key: 'test', headers: json, body: '' });
      assert.equal(await recordCount(), before);
    });

    test('a create with a per-request callback stores it, encrypted, on either path', async () => {
      const headers = {
        ...json,
        'x-webhook-callback': 'https://hooks.example.com/orders',
        'x-webhook-auth': 'Bearer s3cret',
      };
      await same('POST', '/api/v1/data/orders', {
        key: 'test',
        headers,
        body: '{"order_id":"CB","amount":1}',
      });
      const rows = await server.services.database.db
        .selectFrom('requests')
        .innerJoin('records', 'records.id', 'requests.record_id')
        .select(['requests.callback'])
        .where('records.data', 'like', '%"CB"%')
        .execute();
      assert.equal(rows.length, 2);
      for (const row of rows) {
        assert.ok(row.callback, 'callback stored');
        assert.doesNotMatch(String(row.callback), /hooks\.example\.com|s3cret/);
        const opened = JSON.parse(server.services.encryptor.decrypt(String(row.callback)));
        assert.deepEqual(opened, {
          url: 'https://hooks.example.com/orders',
          header: 'Authorization',
          value: 'Bearer s3cret',
        });
      }
    });

    test('rate limits: the same headers, the same 429, and the same usage counted', async () => {
      // Both paths' calls in one clock minute: a per-minute limit starts again at the next.
      await awayFromMinuteEdge(5);
      for (let i = 0; i < 3; i++) {
        const ok = await same('GET', `/api/v1/data/orders/${recordId}`, { key: 'limited' });
        assert.equal(ok.status, 200);
        assert.ok(ok.headers['ratelimit-limit'] ?? ok.headers.ratelimit, 'limit headers sent');
      }
      const refused = await same('POST', '/api/v1/data/orders', {
        key: 'limited',
        headers: json,
        body: '{"order_id":"X","amount":1}',
      });
      assert.equal(refused.status, 429);
      assert.ok(refused.headers['retry-after']);
      await server.services.traffic.usage.flush();
      const usage = await server.services.database.db
        .selectFrom('usage_daily')
        .innerJoin('api_keys', 'api_keys.id', 'usage_daily.key_id')
        .select([
          'api_keys.name',
          'usage_daily.endpoint',
          'usage_daily.status_class',
          'usage_daily.status',
          'usage_daily.count',
          'usage_daily.rate_limited',
        ])
        .where('api_keys.name', 'like', 'limited-%')
        .orderBy('usage_daily.status_class')
        .orderBy('usage_daily.status')
        .execute();
      const of = (name: string) =>
        usage
          .filter((row) => row.name === name)
          .map(({ endpoint, status_class, status, count, rate_limited }) => ({
            endpoint,
            status_class,
            status,
            count: Number(count),
            rate_limited: Number(rate_limited),
          }));
      assert.ok(of('limited-fast').length > 0);
      assert.deepEqual(of('limited-fast'), of('limited-slow'));
    });

    test('metrics count fast-path answers under the route they belong to', async () => {
      const text = await (await fetch(`${fastUrl}/metrics`)).text();
      const line = text
        .split('\n')
        .find((l) =>
          l.startsWith(
            'gatehouse_http_requests_total{method="GET",route="/api/v1/data/:slug/:id",status="200"}',
          ),
        );
      assert.ok(line, 'GET by id counted');
      assert.ok(Number(line.split(' ').pop()) >= 3);
      assert.match(
        text,
        /gatehouse_http_requests_total\{method="POST",route="\/api\/v1\/data\/:slug",status="202"\} \d+/,
      );
      for (const method of ['PUT', 'DELETE']) {
        assert.match(
          text,
          new RegExp(
            `gatehouse_http_requests_total\\{method="${method}",route="/api/v1/data/:slug/:id",status="202"\\} \\d+`,
          ),
          `${method} counted`,
        );
      }
    });

    test('a revoked key is refused at once on the fast path', async () => {
      const key = await server.createKey({ name: 'soon-revoked', environment: 'test' });
      const get = () =>
        fetch(`${fastUrl}/api/v1/data/orders/${recordId}`, {
          headers: { authorization: `Bearer ${key.key}` },
        });
      assert.equal((await get()).status, 200);
      assert.equal((await get()).status, 200);
      const revoked = await server.admin('POST', `/admin/v1/keys/${key.id}/revoke`);
      assert.equal(revoked.status, 200, revoked.text);
      const res = await get();
      assert.equal(res.status, 401);
      assert.equal(((await res.json()) as { code: string }).code, 'api_key_revoked');
    });
  });
}
