import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { getEventListeners } from 'node:events';
import { createServer, request as httpRequest, type Server } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { inspect, promisify } from 'node:util';
import { retryAfterSeconds } from '../packages/client/src/client.ts';
import {
  AuthenticationError,
  BadRequestError,
  ConflictError,
  ConnectionError,
  Gatehouse,
  GatehouseError,
  NotFoundError,
  RateLimitError,
  ServerError,
  verifyWebhook,
  WebhookVerificationError,
} from '../packages/client/src/index.ts';
import { parseJson, stringifyJson } from '../packages/client/src/json.ts';
import { databaseKinds } from './helpers/database.ts';
import { type Receiver, startReceiver } from './helpers/receiver.ts';
import { ordersSchema, startTestServer, type TestServer } from './helpers/server.ts';
import { until } from './helpers/until.ts';

interface Order {
  order_id: string;
  amount: number;
  paid?: boolean;
}
interface Endpoints {
  orders: Order;
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const address = server.address();
  return `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
}

for (const kind of databaseKinds) {
  describe(`@gatehouse/client against a real server (${kind})`, () => {
    let server: TestServer;
    let key: string;
    let receiver: Receiver;
    const extra: Server[] = [];

    before(async () => {
      server = await startTestServer(kind, { GATEHOUSE_WEBHOOK_ALLOW_NETS: '127.0.0.0/8' }, { worker: true });
      await server.createEndpoint({ slug: 'orders', name: 'Orders', schema: ordersSchema });
      key = (await server.createKey({ name: 'client', environment: 'test' })).key;
      receiver = await startReceiver();
    });
    after(async () => {
      await server.close();
      await receiver.close();
      for (const s of extra) {
        s.closeAllConnections();
        await new Promise((r) => s.close(r));
      }
    });

    test('create, get, replace, delete and list every page, typed', async () => {
      const gh = new Gatehouse<Endpoints>({ apiKey: key, baseUrl: server.url });
      const orders = gh.records('orders');
      const queued = await orders.create({ order_id: 'C-1', amount: 10 });
      assert.equal(queued.message, 'Request queued');
      const record = await orders.get(queued.id);
      assert.equal(record.data.order_id, 'C-1');
      await orders.replace(queued.id, { order_id: 'C-1', amount: 20, paid: true });
      assert.equal((await orders.get(queued.id)).version, 2);
      for (let i = 0; i < 7; i++) await orders.create({ order_id: `L-${i}`, amount: i, paid: i % 2 === 0 });
      const all: string[] = [];
      for await (const r of orders.list({ limit: 2, order: 'asc' })) all.push(r.data.order_id);
      assert.deepEqual(all, ['C-1', 'L-0', 'L-1', 'L-2', 'L-3', 'L-4', 'L-5', 'L-6']);
      const paid: number[] = [];
      for await (const r of orders.list({ filter: { paid: true }, order: 'asc' })) paid.push(r.data.amount);
      assert.deepEqual(paid, [20, 0, 2, 4, 6]);
      // A filter left undefined is no filter.
      const unset: boolean | undefined = undefined;
      const everything = await orders.listPage({ filter: { paid: unset }, limit: 100 });
      assert.equal(everything.data.length, all.length);
      await orders.delete(queued.id);
      await assert.rejects(
        orders.get(queued.id),
        (e: unknown) =>
          e instanceof NotFoundError && e.code === 'record_not_found' && /^req_/.test(e.requestId ?? ''),
      );
    });

    test("a slug of '', . or .. is an endpoint not found from every method, not another endpoint's list read", async () => {
      const gh = new Gatehouse({ apiKey: key, baseUrl: server.url, maxRetries: 0 });
      const orders = gh.records('orders');
      await orders.create({ order_id: 'S-1', amount: 1 });
      const before = (await orders.listPage({ limit: 100 })).data.length;
      for (const slug of ['', '.', '..']) {
        const notFound = (e: unknown) =>
          e instanceof NotFoundError &&
          e.status === 404 &&
          e.code === 'endpoint_not_found' &&
          e.message === `Endpoint "${slug}" not found`;
        const wrong = gh.records(slug);
        // Before: records('.').get('orders') answered the orders list as one record (a URL drops
        // '.' as a dot segment), and the other calls hit another route.
        await assert.rejects(wrong.get('orders'), notFound, `get via ${JSON.stringify(slug)}`);
        await assert.rejects(wrong.get('x'), notFound);
        await assert.rejects(wrong.create({ order_id: 'S-2', amount: 2 }), notFound);
        await assert.rejects(wrong.replace('orders', { order_id: 'S-2', amount: 2 }), notFound);
        await assert.rejects(wrong.delete('orders'), notFound);
        await assert.rejects(wrong.listPage(), notFound);
        await assert.rejects(wrong.list().next(), notFound);
      }
      assert.equal((await orders.listPage({ limit: 100 })).data.length, before, 'nothing was written');
    });

    test('errors are typed classes mirroring the envelope', async () => {
      const gh = new Gatehouse<Endpoints>({ apiKey: key, baseUrl: server.url, maxRetries: 0 });
      await assert.rejects(
        gh.records('orders').create({ amount: -1 } as Order),
        (e: unknown) =>
          e instanceof BadRequestError &&
          e.status === 400 &&
          e.code === 'validation_failed' &&
          e.details.some((d) => d.field === 'order_id'),
      );
      const wrong = new Gatehouse({ apiKey: 'gk_test_nope', baseUrl: server.url });
      await assert.rejects(
        wrong.account(),
        (e: unknown) => e instanceof AuthenticationError && e.code === 'invalid_api_key',
      );
    });

    test('a write retried after a lost response is applied once (automatic Idempotency-Key)', async () => {
      let calls = 0;
      const keys: string[] = [];
      const target = new URL(server.url);
      const proxy = createServer((req, res) => {
        calls++;
        keys.push(String(req.headers['idempotency-key']));
        const forward = httpRequest(
          {
            host: target.hostname,
            port: target.port,
            path: req.url,
            method: req.method,
            headers: req.headers,
          },
          (upstream) => {
            if (calls === 1) {
              // The write happened, but its answer is lost on the way back.
              upstream.resume();
              req.socket.destroy();
              return;
            }
            res.writeHead(upstream.statusCode ?? 502, upstream.headers);
            upstream.pipe(res);
          },
        );
        req.pipe(forward);
      });
      extra.push(proxy);
      const gh = new Gatehouse<Endpoints>({ apiKey: key, baseUrl: await listen(proxy), maxRetries: 3 });
      const queued = await gh.records('orders').create({ order_id: 'ONCE', amount: 1 });
      assert.equal(calls, 2);
      assert.equal(keys[0], keys[1]);
      const copies = await server.services.database.db
        .selectFrom('records')
        .select('id')
        .where('data', 'like', '%"ONCE"%')
        .execute();
      assert.deepEqual(
        copies.map((c) => c.id),
        [queued.id],
      );
    });

    test('429 and 503 are retried honouring Retry-After; a timeout is a ConnectionError', async () => {
      let hits = 0;
      const flaky = createServer((_req, res) => {
        hits++;
        if (hits === 1)
          res
            .writeHead(429, { 'retry-after': '1', 'content-type': 'application/json' })
            .end(
              '{"success":false,"error":"Rate limited","code":"rate_limited","details":[],"request_id":"req_x"}',
            );
        else if (hits === 2) res.writeHead(503, { 'retry-after': '0' }).end('{}');
        else
          res
            .writeHead(200, { 'content-type': 'application/json' })
            .end('{"success":true,"data":{"name":"ok"}}');
      });
      extra.push(flaky);
      const started = Date.now();
      const gh = new Gatehouse({ apiKey: key, baseUrl: await listen(flaky), maxRetries: 2 });
      assert.deepEqual(await gh.account(), { name: 'ok' });
      assert.equal(hits, 3);
      assert.ok(Date.now() - started >= 1_000, 'Retry-After was not honoured');

      const hang = createServer(() => {});
      extra.push(hang);
      const slow = new Gatehouse({ apiKey: key, baseUrl: await listen(hang), timeoutMs: 300, maxRetries: 0 });
      await assert.rejects(slow.account(), (e: unknown) => e instanceof ConnectionError);
    });

    test('verifyWebhook accepts a real delivery and refuses a tampered one', async () => {
      const sub = await server.admin('POST', '/admin/v1/endpoints/orders/webhooks', {
        url: receiver.url,
        environment: 'test',
        events: ['record.created'],
      });
      const secret = sub.body.data.secret as string;
      const gh = new Gatehouse<Endpoints>({ apiKey: key, baseUrl: server.url });
      const queued = await gh.records('orders').create({ order_id: 'HOOK', amount: 5 });
      const deliveries = await receiver.waitFor(1);
      const delivery = deliveries.find((d) => d.body.includes(queued.id)) ?? deliveries[0];
      assert.ok(delivery);
      const event = verifyWebhook<Order>(delivery.body, delivery.headers, secret);
      assert.equal(event.type, 'record.created');
      assert.equal(event.data.record?.data.order_id, 'HOOK');
      // The raw bytes as well: a Buffer, or a Uint8Array that views part of a larger buffer.
      const bytes = new TextEncoder().encode(`xx${delivery.body}yy`).subarray(2, -2);
      for (const body of [Buffer.from(delivery.body), bytes]) {
        assert.equal(verifyWebhook<Order>(body, delivery.headers, secret).id, event.id);
      }
      assert.throws(
        () => verifyWebhook(delivery.body.replace('HOOK', 'H00K'), delivery.headers, secret),
        WebhookVerificationError,
      );
      assert.throws(
        () => verifyWebhook(delivery.body, delivery.headers, secret, { now: Date.now() + 3_600_000 }),
        WebhookVerificationError,
      );
    });

    test("a write's callback verifies with the key's callback_signing_secret from account()", async () => {
      const gh = new Gatehouse<Endpoints>({ apiKey: key, baseUrl: server.url });
      const account = await gh.account();
      assert.ok(account.callback_signing_secret?.startsWith('whsec_'));
      const other = (await server.createKey({ name: 'client-other', environment: 'test' })).key;
      const otherSecret = (await new Gatehouse({ apiKey: other, baseUrl: server.url }).account())
        .callback_signing_secret;
      assert.ok(otherSecret && otherSecret !== account.callback_signing_secret);
      const r = await startReceiver();
      try {
        const queued = await gh
          .records('orders')
          .create({ order_id: 'CB', amount: 1 }, { callback: { url: r.url } });
        const [delivery] = await r.waitFor(1);
        assert.ok(delivery);
        const event = verifyWebhook<Order>(
          delivery.body,
          delivery.headers,
          account.callback_signing_secret ?? '',
        );
        assert.equal(event.data.record_id, queued.id);
        assert.throws(
          () => verifyWebhook(delivery.body, delivery.headers, otherSecret),
          WebhookVerificationError,
        );
      } finally {
        await r.close();
      }
    });

    test('a Retry-After longer than maxRetryWaitMs is not waited out: the RateLimitError comes at once', async () => {
      let hits = 0;
      const daily = createServer((_req, res) => {
        hits++;
        res
          .writeHead(429, {
            'retry-after': hits === 1 ? '30067' : '2622069',
            'content-type': 'application/json',
          })
          .end(
            '{"success":false,"error":"Daily limit","code":"rate_limited","details":[],"request_id":"req_x"}',
          );
      });
      extra.push(daily);
      const url = await listen(daily);
      const gh = new Gatehouse({ apiKey: key, baseUrl: url });
      await assert.rejects(
        gh.account(),
        (e: unknown) => e instanceof RateLimitError && e.retryAfter === 30067,
      );
      assert.equal(hits, 1, 'the client retried although Retry-After was over 8 hours');
      // A month's Retry-After (2 622 069 s) used to overflow setTimeout and retry at once; a
      // wait past setTimeout's range is refused whatever maxRetryWaitMs says.
      const patient = new Gatehouse({ apiKey: key, baseUrl: url, maxRetryWaitMs: Number.POSITIVE_INFINITY });
      await assert.rejects(
        patient.account(),
        (e: unknown) => e instanceof RateLimitError && e.retryAfter === 2622069,
      );
      assert.equal(hits, 2, 'the client retried at once after an overflowing Retry-After');
    });

    test('integers past 2^53 keep every digit through get, replace, create and list', async () => {
      interface Exact {
        order_id: string;
        amount: number | bigint;
        paid?: boolean;
      }
      const gh = new Gatehouse<{ orders: Exact }>({ apiKey: key, baseUrl: server.url });
      const orders = gh.records('orders');
      const raw = async (method: string, path: string, body?: string) => {
        const res = await fetch(`${server.url}${path}`, {
          method,
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
          body,
        });
        return res.text();
      };
      const posted = JSON.parse(
        await raw('POST', '/api/v1/data/orders', '{"order_id":"BIG","amount":1152921504606846977}'),
      ) as { id: string };
      const record = await orders.get(posted.id);
      assert.equal(record.data.amount, 1152921504606846977n);
      assert.equal(record.version, 1);
      // Read, change, write back: the stored integer is the same one (JSON.parse made it ...7000).
      await orders.replace(posted.id, { ...record.data, paid: true });
      const stored = await raw('GET', `/api/v1/data/orders/${posted.id}`);
      assert.match(stored, /"amount":1152921504606846977[,}]/);
      assert.match(stored, /"paid":true/);
      const made = await orders.create({ order_id: 'BIG-2', amount: 9007199254740993n });
      assert.match(await raw('GET', `/api/v1/data/orders/${made.id}`), /"amount":9007199254740993[,}]/);
      const found = await orders.listPage({ filter: { amount: 1152921504606846977n } });
      assert.deepEqual(
        found.data.map((r) => [r.id, r.data.amount]),
        [[posted.id, 1152921504606846977n]],
      );
      // Small integers and fractions stay numbers.
      const small = await orders.create({ order_id: 'SMALL', amount: 42 });
      assert.equal((await orders.get(small.id)).data.amount, 42);
    });

    test('an answer cut off or stalled while its body is read is retried, then a ConnectionError', async () => {
      let hits = 0;
      const answer = '{"success":true,"data":{"name":"second"}}';
      const cut = createServer((_req, res) => {
        hits++;
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(answer.length) });
        if (hits === 1) {
          res.write(answer.slice(0, 16));
          setTimeout(() => res.socket?.destroy(), 20);
        } else res.end(answer);
      });
      extra.push(cut);
      const gh = new Gatehouse({ apiKey: key, baseUrl: await listen(cut), maxRetries: 2 });
      assert.deepEqual(await gh.account(), { name: 'second' });
      assert.equal(hits, 2);

      let stalls = 0;
      const stall = createServer((_req, res) => {
        stalls++;
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' });
        res.write('{"success":');
      });
      extra.push(stall);
      const slow = new Gatehouse({
        apiKey: key,
        baseUrl: await listen(stall),
        timeoutMs: 300,
        maxRetries: 1,
      });
      await assert.rejects(
        slow.account(),
        (e: unknown) => e instanceof ConnectionError && e.code === 'connection_error',
      );
      assert.equal(stalls, 2);
    });

    test('409 idempotency_key_in_flight is retried after Retry-After with the same key', async () => {
      const keys: string[] = [];
      const busy = createServer((req, res) => {
        keys.push(String(req.headers['idempotency-key']));
        req.resume();
        if (keys.length === 1)
          res
            .writeHead(409, { 'retry-after': '0', 'content-type': 'application/json' })
            .end(
              '{"success":false,"error":"A request with this Idempotency-Key is still in flight","code":"idempotency_key_in_flight","details":[],"request_id":"req_x"}',
            );
        else
          res
            .writeHead(202, { 'content-type': 'application/json' })
            .end('{"success":true,"id":"rec_x","message":"Request queued"}');
      });
      extra.push(busy);
      const gh = new Gatehouse<Endpoints>({ apiKey: key, baseUrl: await listen(busy) });
      const queued = await gh.records('orders').create({ order_id: 'X', amount: 1 });
      assert.equal(queued.id, 'rec_x');
      assert.equal(keys.length, 2);
      assert.equal(keys[0], keys[1]);
    });

    test('RateLimitError carries retryAfter', async () => {
      const limitedKey = (
        await server.createKey({ name: 'limited', environment: 'test', limits: { per_minute: 1 } })
      ).key;
      const gh = new Gatehouse({ apiKey: limitedKey, baseUrl: server.url, maxRetries: 0 });
      await gh.account();
      await assert.rejects(
        gh.account(),
        (e: unknown) => e instanceof RateLimitError && typeof e.retryAfter === 'number' && e.retryAfter > 0,
      );
    });
  });
}

test('Retry-After is read as seconds or as an HTTP date; anything else is no Retry-After', () => {
  const now = Date.parse('2026-12-02T10:00:00Z');
  assert.equal(retryAfterSeconds('7', now), 7);
  assert.equal(retryAfterSeconds(' 0 ', now), 0);
  assert.equal(retryAfterSeconds('Wed, 02 Dec 2026 10:00:03 GMT', now), 3);
  assert.equal(retryAfterSeconds('Wed, 02 Dec 2026 09:59:00 GMT', now), 0, 'a date past is now');
  for (const bad of [null, '', 'soon', '-5', '1.5e3'])
    assert.equal(retryAfterSeconds(bad, now), undefined, String(bad));
});

test('no answer says why and keeps the cause; a base URL fetch cannot use is refused at construction', async () => {
  const closed = createServer();
  const url = await listen(closed);
  await new Promise((r) => closed.close(r));
  const port = new URL(url).port;
  const gh = new Gatehouse<Endpoints>({ apiKey: 'gk_test_x', baseUrl: url, maxRetries: 0 });
  // Before: "Gatehouse unreachable: fetch failed", the same for a wrong port, host or certificate.
  const error = await gh
    .records('orders')
    .get('rec_1')
    .then(
      () => assert.fail('answered'),
      (e: unknown) => e,
    );
  assert.ok(error instanceof ConnectionError);
  assert.equal(error.message, `Gatehouse unreachable: fetch failed (connect ECONNREFUSED 127.0.0.1:${port})`);
  assert.ok(error.cause instanceof TypeError);
  assert.equal(error.cause.message, 'fetch failed');
  // Before: each was tried maxRetries + 1 times, then a ConnectionError ("Failed to parse URL").
  for (const baseUrl of ['', 'api.example.com', 'ftp://api.example.com'])
    assert.throws(
      () => new Gatehouse({ apiKey: 'gk_test_x', baseUrl }),
      new TypeError(
        `Gatehouse: baseUrl must be an absolute http:// or https:// URL, not ${JSON.stringify(baseUrl)}`,
      ),
      baseUrl,
    );
});

test('a signal cancels a call: in flight, while waiting to retry, or before it starts; nothing is retried after', async () => {
  let hits = 0;
  const paths: string[] = [];
  const stalled = createServer((req, res) => {
    hits++;
    paths.push(`${req.method} ${req.url}`);
    // A 503 asking for a long wait, then answers that never come.
    if (req.url === '/api/v1/account' && hits === 1)
      res.writeHead(503, { 'retry-after': '30', 'content-type': 'application/json' }).end('{}');
  });
  const url = await listen(stalled);
  try {
    const gh = new Gatehouse<Endpoints>({ apiKey: 'gk_test_x', baseUrl: url, maxRetries: 3 });
    // Waiting out the 503's Retry-After: cancelled at once, not after 30 s, with the caller's reason.
    const waiting = new AbortController();
    const retried = gh.account({ signal: waiting.signal });
    await until(
      async () => hits,
      (n) => n === 1,
    );
    const reason = new Error('user left the page');
    const started = Date.now();
    waiting.abort(reason);
    await assert.rejects(retried, (e: unknown) => e === reason);
    assert.ok(Date.now() - started < 5_000);
    // In flight (the server holds it): an AbortError, as fetch gives, not a ConnectionError.
    const flying = new AbortController();
    const write = gh.records('orders').create({ order_id: 'o', amount: 1 }, { signal: flying.signal });
    await until(
      async () => hits,
      (n) => n === 2,
    );
    flying.abort();
    await assert.rejects(
      write,
      (e: unknown) => e instanceof Error && e.name === 'AbortError' && !(e instanceof GatehouseError),
    );
    // Already aborted: no request at all, for every call.
    const done = AbortSignal.abort();
    const orders = gh.records('orders');
    for (const call of [
      () => orders.get('rec_1', { signal: done }),
      () => orders.replace('rec_1', { order_id: 'o', amount: 1 }, { signal: done }),
      () => orders.delete('rec_1', { signal: done }),
      () => orders.listPage({ signal: done }),
      () => orders.list({ signal: done }).next(),
    ])
      await assert.rejects(call(), (e: unknown) => e instanceof Error && e.name === 'AbortError');
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(paths, ['GET /api/v1/account', 'POST /api/v1/data/orders']);
  } finally {
    stalled.closeAllConnections();
    await new Promise((r) => stalled.close(r));
  }
});

test('without AbortSignal.any (Node 20.0 to 20.2) a signal still cancels a call in flight and the timeout still ends one, leaving no listener on the signal', async () => {
  const held = createServer(() => {
    // Never answers.
  });
  const url = await listen(held);
  const any = Object.getOwnPropertyDescriptor(AbortSignal, 'any');
  Reflect.deleteProperty(AbortSignal, 'any');
  try {
    const kept = new AbortController();
    const quick = new Gatehouse<Endpoints>({
      apiKey: 'gk_test_x',
      baseUrl: url,
      maxRetries: 0,
      timeoutMs: 200,
    });
    const timedOut = await quick.account({ signal: kept.signal }).then(
      () => assert.fail('answered'),
      (e: unknown) => e,
    );
    assert.ok(timedOut instanceof ConnectionError, String(timedOut));
    assert.equal(getEventListeners(kept.signal, 'abort').length, 0, 'a listener left on the caller’s signal');
    const flying = new AbortController();
    const slow = new Gatehouse<Endpoints>({ apiKey: 'gk_test_x', baseUrl: url, maxRetries: 0 });
    const call = slow.records('orders').get('rec_1', { signal: flying.signal });
    const reason = new Error('user left the page');
    setTimeout(() => flying.abort(reason), 100);
    await assert.rejects(call, (e: unknown) => e === reason);
  } finally {
    if (any) Object.defineProperty(AbortSignal, 'any', any);
    held.closeAllConnections();
    await new Promise((r) => held.close(r));
  }
});

test('a 2xx that is no JSON object (another server at baseUrl) is a GatehouseError saying so', async () => {
  const site = createServer((req, res) => {
    req.resume();
    res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>Shop</title>');
  });
  const url = await listen(site);
  try {
    const gh = new Gatehouse<Endpoints>({ apiKey: 'gk_test_x', baseUrl: url, maxRetries: 0 });
    const notGatehouse = (e: unknown) => {
      assert.ok(e instanceof GatehouseError, String(e));
      assert.equal(e.status, 200);
      assert.equal(e.code, 'invalid_response');
      assert.equal(
        e.message,
        `Not an answer from Gatehouse (HTTP 200, text/html, not a JSON object): is ${url} its address?`,
      );
      return true;
    };
    // Before: account() and get() a TypeError ("Cannot read properties of undefined (reading
    // 'data')"), create() resolved to undefined.
    await assert.rejects(gh.account(), notGatehouse);
    await assert.rejects(gh.records('orders').get('rec_1'), notGatehouse);
    await assert.rejects(gh.records('orders').create({ order_id: 'x', amount: 1 }), notGatehouse);
  } finally {
    site.closeAllConnections();
    await new Promise((r) => site.close(r));
  }
});

test('an error answer in another JSON shape (a proxy\'s) keeps the error\'s fields typed, not "[object Object]"', async () => {
  const stub = createServer((req, res) => {
    req.resume();
    const json = { 'content-type': 'application/json' };
    if (req.method === 'GET')
      res.writeHead(502, json).end('{"error":{"code":"upstream","message":"Bad gateway"},"request_id":7}');
    else res.writeHead(403, json).end('{"message":"Forbidden","code":403,"details":"denied"}');
  });
  const url = await listen(stub);
  try {
    const gh = new Gatehouse<Endpoints>({ apiKey: 'gk_test_x', baseUrl: url, maxRetries: 0 });
    // Before: message "[object Object]", requestId 7; code 403 (a number) and details "denied".
    await assert.rejects(gh.account(), (e: unknown) => {
      assert.ok(e instanceof ServerError);
      assert.deepEqual(
        [e.status, e.code, e.message, e.details, e.requestId],
        [502, 'http_502', 'HTTP 502', [], undefined],
      );
      return true;
    });
    await assert.rejects(gh.records('orders').create({ order_id: 'x', amount: 1 }), (e: unknown) => {
      assert.ok(e instanceof GatehouseError && e.name === 'PermissionError');
      assert.deepEqual([e.status, e.code, e.message, e.details], [403, 'http_403', 'HTTP 403', []]);
      return true;
    });
  } finally {
    stub.closeAllConnections();
    await new Promise((r) => stub.close(r));
  }
});

test('a redirect (from a proxy: Gatehouse sends none) is not followed: a write is not turned into a GET', async () => {
  const seen: string[] = [];
  const proxy = createServer((req, res) => {
    req.resume();
    seen.push(`${req.method} ${req.url}`);
    if (req.url?.startsWith('/v2/'))
      return void res
        .writeHead(200, { 'content-type': 'application/json' })
        .end('{"success":true,"data":[],"meta":{"next_cursor":null}}');
    res.writeHead(req.method === 'GET' ? 302 : 301, { location: `/v2${req.url}` }).end();
  });
  const url = await listen(proxy);
  try {
    const gh = new Gatehouse<Endpoints>({ apiKey: 'gk_test_x', baseUrl: url });
    const redirected = (status: number, path: string) => (e: unknown) => {
      assert.ok(e instanceof GatehouseError, String(e));
      assert.equal(e.status, status);
      assert.equal(e.code, 'invalid_response');
      assert.equal(
        e.message,
        `Not an answer from Gatehouse (HTTP ${status}, a redirect to /v2${path}, not followed): is ${url} its address?`,
      );
      return true;
    };
    // Before: fetch followed the 301 with a GET, and create() resolved with the list it answered.
    await assert.rejects(
      gh.records('orders').create({ order_id: 'x', amount: 1 }),
      redirected(301, '/api/v1/data/orders'),
    );
    await assert.rejects(gh.records('orders').listPage(), redirected(302, '/api/v1/data/orders'));
    // Neither followed nor retried.
    assert.deepEqual(seen, ['POST /api/v1/data/orders', 'GET /api/v1/data/orders']);
  } finally {
    proxy.closeAllConnections();
    await new Promise((r) => proxy.close(r));
  }
});

test('maxRetryWaitMs holds back a long Retry-After only: the backoff of a 503 without one is retried every time', async () => {
  let hits = 0;
  const stub = createServer((req, res) => {
    req.resume();
    hits++;
    res
      .writeHead(503, { 'content-type': 'application/json' })
      .end('{"success":false,"error":"x","code":"service_unavailable","details":[],"request_id":"req_x"}');
  });
  const url = await listen(stub);
  try {
    const gh = new Gatehouse<Endpoints>({
      apiKey: 'gk_test_x',
      baseUrl: url,
      maxRetries: 3,
      maxRetryWaitMs: 50,
    });
    await assert.rejects(
      gh.account(),
      (e: unknown) => e instanceof ServerError && e.retryAfter === undefined,
    );
    // Before: thrown as soon as a random backoff (up to 250, 500, 1000 ms) passed 50 ms: 1 to 4 requests.
    assert.equal(hits, 4);
  } finally {
    stub.closeAllConnections();
    await new Promise((r) => stub.close(r));
  }
});

test("every error carries the answer's Retry-After, not a 429's alone", async () => {
  const envelope = (code: string) =>
    JSON.stringify({ success: false, error: code, code, details: [], request_id: 'req_x' });
  const stub = createServer((req, res) => {
    req.resume();
    const json = { 'content-type': 'application/json' };
    if (req.method === 'GET')
      res.writeHead(503, { ...json, 'retry-after': '2' }).end(envelope('service_unavailable'));
    else res.writeHead(409, { ...json, 'retry-after': '1' }).end(envelope('idempotency_key_in_flight'));
  });
  const url = await listen(stub);
  try {
    const gh = new Gatehouse<Endpoints>({ apiKey: 'gk_test_x', baseUrl: url, maxRetries: 0 });
    // Before: a ServerError or ConflictError had no retryAfter: when to try again was lost.
    await assert.rejects(
      gh.account(),
      (e: unknown) => e instanceof ServerError && e.code === 'service_unavailable' && e.retryAfter === 2,
    );
    await assert.rejects(
      gh.records('orders').create({ order_id: 'x', amount: 1 }),
      (e: unknown) =>
        e instanceof ConflictError && e.code === 'idempotency_key_in_flight' && e.retryAfter === 1,
    );
    // Longer than maxRetryWaitMs: thrown at once, with it.
    const impatient = new Gatehouse({ apiKey: 'gk_test_x', baseUrl: url, maxRetryWaitMs: 1000 });
    await assert.rejects(impatient.account(), (e: unknown) => e instanceof ServerError && e.retryAfter === 2);
  } finally {
    stub.closeAllConnections();
    await new Promise((r) => stub.close(r));
  }
});

test('507 storage_full is thrown at once, not retried; a 500 and a 502 still are', async () => {
  const envelope = (code: string) =>
    JSON.stringify({ success: false, error: code, code, details: [], request_id: 'req_x' });
  const hits = { full: 0, fault: 0, gateway: 0 };
  const stub = createServer((req, res) => {
    req.resume();
    const json = { 'content-type': 'application/json' };
    if (req.url?.endsWith('/full')) {
      hits.full++;
      res.writeHead(507, json).end(envelope('storage_full'));
    } else if (req.url?.endsWith('/fault')) {
      hits.fault++;
      res.writeHead(500, json).end(envelope('internal_error'));
    } else {
      hits.gateway++;
      res.writeHead(502, { 'content-type': 'text/html' }).end('<h1>Bad gateway</h1>');
    }
  });
  const url = await listen(stub);
  try {
    const gh = new Gatehouse<Endpoints>({ apiKey: 'gk_test_x', baseUrl: url, maxRetries: 2 });
    const orders = gh.records('orders');
    // Before: retried twice (three writes against a full disk) before the ServerError.
    await assert.rejects(
      orders.replace('full', { order_id: 'x', amount: 1 }),
      (e: unknown) => e instanceof ServerError && e.status === 507 && e.code === 'storage_full',
    );
    assert.equal(hits.full, 1, 'a 507 was retried');
    await assert.rejects(orders.get('fault'), (e: unknown) => e instanceof ServerError && e.status === 500);
    assert.equal(hits.fault, 3, 'a 500 is retried (maxRetries 2)');
    await assert.rejects(orders.get('gateway'), (e: unknown) => e instanceof ServerError && e.status === 502);
    assert.equal(hits.gateway, 3, 'a 502 is retried (maxRetries 2)');
  } finally {
    stub.closeAllConnections();
    await new Promise((r) => stub.close(r));
  }
});

test('the API key is not printed nor serialised with the client or its records', async () => {
  let sent: string | undefined;
  const stub = createServer((req, res) => {
    sent = req.headers.authorization;
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"success":true,"data":{"name":"k"}}');
  });
  const url = await listen(stub);
  try {
    const gh = new Gatehouse<Endpoints>({ apiKey: 'gk_test_s3cret', baseUrl: url });
    const orders = gh.records('orders');
    // Before: `options: { apiKey: 'gk_test_s3cret', … }` in each, for any log line holding them.
    for (const shown of [
      inspect(gh, { depth: 5 }),
      inspect(orders, { depth: 5 }),
      JSON.stringify(gh),
      JSON.stringify(orders),
    ])
      assert.ok(!shown.includes('s3cret'), shown);
    await gh.account();
    assert.equal(sent, 'Bearer gk_test_s3cret');
  } finally {
    stub.closeAllConnections();
    await new Promise((r) => stub.close(r));
  }
});

test('the client loads with require() from CommonJS too', async () => {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [
      '-e',
      "const c = require('@gatehouse/client'); process.stdout.write(typeof c.Gatehouse + typeof c.verifyWebhook)",
    ],
    { cwd: process.cwd() },
  );
  assert.equal(stdout, 'functionfunction');
});

test('verifyWebhook reads an integer past 2^53 exactly', () => {
  const secret = `whsec_${Buffer.from('0123456789abcdef0123456789abcdef').toString('base64')}`;
  const body =
    '{"id":"evt_1","type":"record.created","created_at":"2026-01-01T00:00:00.000Z","data":{"record":{"id":"rec_1","data":{"amount":1152921504606846977,"note":"12345678901234567890"}}}}';
  const timestamp = String(Math.floor(Date.now() / 1000));
  const signature = createHmac('sha256', Buffer.from(secret.slice(6), 'base64'))
    .update(`evt_1.${timestamp}.${body}`)
    .digest('base64');
  const event = verifyWebhook<{ amount: bigint; note: string }>(
    body,
    { 'webhook-id': 'evt_1', 'webhook-timestamp': timestamp, 'webhook-signature': `v1,${signature}` },
    secret,
  );
  assert.equal(event.data.record?.data.amount, 1152921504606846977n);
  assert.equal(event.data.record?.data.note, '12345678901234567890');
  // Header names in a plain record are matched in any case, as HTTP says they are.
  const spelled = verifyWebhook<{ amount: bigint; note: string }>(
    body,
    { 'Webhook-Id': 'evt_1', 'WEBHOOK-TIMESTAMP': timestamp, 'Webhook-Signature': [`v1,${signature}`] },
    secret,
  );
  assert.equal(spelled.id, 'evt_1');
});

test('a delivery that does not verify says why, in an error named WebhookVerificationError', () => {
  const secret = `whsec_${Buffer.from('0123456789abcdef0123456789abcdef').toString('base64')}`;
  const body = '{"id":"evt_1","type":"record.created"}';
  const at = (seconds: number) => {
    const timestamp = String(seconds);
    const signature = createHmac('sha256', Buffer.from(secret.slice(6), 'base64'))
      .update(`evt_1.${timestamp}.${body}`)
      .digest('base64');
    return { 'webhook-id': 'evt_1', 'webhook-timestamp': timestamp, 'webhook-signature': `v1,${signature}` };
  };
  const now = Math.floor(Date.now() / 1000);
  const refused = (run: () => unknown): WebhookVerificationError => {
    try {
      run();
    } catch (error) {
      assert.ok(error instanceof WebhookVerificationError);
      return error;
    }
    throw new Error('verified');
  };
  // Before: "Error: No matching signature", the same words for a wrong secret and a re-serialised body.
  const wrongSecret = refused(() => verifyWebhook(body, at(now), 'whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'));
  assert.equal(wrongSecret.name, 'WebhookVerificationError');
  assert.match(String(wrongSecret), /^WebhookVerificationError: No webhook-signature matches this secret/);
  assert.match(wrongSecret.message, /callback_signing_secret/);
  assert.match(wrongSecret.message, /raw bytes/);
  const reserialised = refused(() =>
    verifyWebhook(JSON.stringify(JSON.parse(body), null, 1), at(now), secret),
  );
  assert.match(reserialised.message, /not JSON parsed and written again/);
  const old = refused(() => verifyWebhook(body, at(now - 3600), secret));
  assert.match(old.message, /is more than 300 s from now/);
  assert.equal(verifyWebhook(body, at(now), secret).id, 'evt_1');
});

test('verifyWebhook refuses an empty secret, and a tolerance or clock that is not a number, before reading a delivery', () => {
  const body = '{"id":"evt_1","type":"record.created"}';
  const signed = (key: Buffer, seconds: number) => {
    const timestamp = String(seconds);
    const signature = createHmac('sha256', key).update(`evt_1.${timestamp}.${body}`).digest('base64');
    return { 'webhook-id': 'evt_1', 'webhook-timestamp': timestamp, 'webhook-signature': `v1,${signature}` };
  };
  const now = Math.floor(Date.now() / 1000);
  // Before: a secret read from an unset variable was an empty HMAC key, and anyone signing with
  // that key was believed.
  const forged = signed(Buffer.alloc(0), now);
  for (const empty of ['', 'whsec_', 'whsec_===', undefined as unknown as string])
    assert.throws(
      () => verifyWebhook(body, forged, empty),
      new TypeError('verifyWebhook: secret is empty: pass the whsec_… secret the deliveries are signed with'),
      String(empty),
    );
  // Before: NaN (`Number(process.env.UNSET)`) compared false with every age: an hour-old replay passed.
  const secret = Buffer.from('0123456789abcdef0123456789abcdef');
  const whsec = `whsec_${secret.toString('base64')}`;
  const replay = signed(secret, now - 3600);
  assert.throws(
    () => verifyWebhook(body, replay, whsec, { toleranceSeconds: Number.NaN }),
    new RangeError('verifyWebhook: toleranceSeconds must be a finite number of seconds, 0 or more, not NaN'),
  );
  assert.throws(
    () => verifyWebhook(body, replay, whsec, { toleranceSeconds: -1 }),
    new RangeError('verifyWebhook: toleranceSeconds must be a finite number of seconds, 0 or more, not -1'),
  );
  // Infinity would let every replay through as well.
  assert.throws(
    () => verifyWebhook(body, replay, whsec, { toleranceSeconds: Number.POSITIVE_INFINITY }),
    new RangeError(
      'verifyWebhook: toleranceSeconds must be a finite number of seconds, 0 or more, not Infinity',
    ),
  );
  assert.throws(
    () => verifyWebhook(body, replay, whsec, { now: Number.NaN }),
    new RangeError('verifyWebhook: now must be a time in milliseconds, not NaN'),
  );
  // Unset options are the defaults (under exactOptionalPropertyTypes too): 300 s, the clock.
  assert.throws(
    () => verifyWebhook(body, replay, whsec, { toleranceSeconds: undefined, now: undefined }),
    new WebhookVerificationError(
      `webhook-timestamp ${now - 3600} is more than 300 s from now: a replay, or this machine's clock is off`,
    ),
  );
  assert.equal(verifyWebhook(body, replay, whsec, { toleranceSeconds: 7200 }).id, 'evt_1');
});

test('exact JSON: no string of the data passes for a long integer, either way', () => {
  const parsed = parseJson('{"a":"\\u0000int:abc","b":"\\u0000int:5","n":12345678901234567890}') as Record<
    string,
    unknown
  >;
  assert.deepEqual(parsed, { a: '\u0000int:abc', b: '\u0000int:5', n: 12345678901234567890n });
  assert.equal(
    stringifyJson({ a: 1n, s: '\u0000int:5', big: -12345678901234567890n }),
    '{"a":1,"s":"\\u0000int:5","big":-12345678901234567890}',
  );
});

/** Compile-time checks (tsc --noEmit runs in CI): typed endpoints make wrong writes fail to compile. */
export function typeChecks(gh: Gatehouse<Endpoints>): void {
  // @ts-expect-error amount must be a number
  void gh.records('orders').create({ order_id: 'x', amount: 'ten' });
  // @ts-expect-error no such endpoint in the map
  void gh.records('invoices');
  // @ts-expect-error order_id is required
  void gh.records('orders').create({ amount: 1 });
}
