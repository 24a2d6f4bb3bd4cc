import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { databaseKinds } from './helpers/database.ts';
import { type Receiver, signedWith, startReceiver } from './helpers/receiver.ts';
import { ordersSchema, startPeerServer, startTestServer, type TestServer } from './helpers/server.ts';
import { until } from './helpers/until.ts';

const order = { order_id: 'ORD-1', amount: 100 };
const LOOPBACK = { GATEHOUSE_WEBHOOK_ALLOW_NETS: '127.0.0.0/8' };

for (const kind of databaseKinds) {
  describe(`per-request callbacks (${kind})`, () => {
    let server: TestServer;
    let receiver: Receiver;
    let key: string;
    let keyId: string;
    /** The key's callback signing secret, as the key itself reads it. */
    let signingSecret: string;
    /** The installation's callback secret, the root: it must verify no callback. */
    let rootSecret: string;

    before(async () => {
      server = await startTestServer(kind, LOOPBACK, { worker: true });
      receiver = await startReceiver();
      await server.createEndpoint({
        slug: 'orders',
        name: 'Orders',
        schema: ordersSchema,
        retry: { max_retries: 2, interval_seconds: 1 },
      });
      ({ key, id: keyId } = await server.createKey({ name: 'cb', environment: 'test' }));
      signingSecret = (await server.request('GET', '/api/v1/account', { key })).body.data
        .callback_signing_secret;
      rootSecret = (await server.admin('GET', '/admin/v1/webhook-signing-secret')).body.data.secret;
    });

    /** The one callback a write with `withKey` makes to a fresh receiver. */
    async function callbackOf(withKey: string): Promise<{ body: string; headers: Record<string, string> }> {
      const r = await startReceiver();
      try {
        const res = await server.request('POST', '/api/v1/data/orders', {
          key: withKey,
          json: order,
          headers: { 'x-webhook-callback': r.url },
        });
        assert.equal(res.status, 202, res.text);
        const [got] = await r.waitFor(1);
        assert.ok(got);
        return { body: got.body, headers: got.headers as Record<string, string> };
      } finally {
        await r.close();
      }
    }

    test("a callback is signed with its key's own secret: not another key's, nor the installation's", async () => {
      assert.match(signingSecret, /^whsec_/);
      assert.equal(Buffer.from(signingSecret.slice(6), 'base64').length, 32);
      // The owner reads the same secret for the key.
      const owners = await server.admin('GET', `/admin/v1/keys/${keyId}/callback-signing-secret`);
      assert.equal(owners.status, 200, owners.text);
      assert.deepEqual(owners.body.data, {
        object: 'callback_signing_secret',
        key_id: keyId,
        secret: signingSecret,
        used_for: "per-request callbacks of this key's requests",
        previous_secret_expires_at: null,
      });
      const other = await server.createKey({ name: 'cb-other', environment: 'test' });
      const otherSecret = (await server.request('GET', '/api/v1/account', { key: other.key })).body.data
        .callback_signing_secret;
      assert.match(otherSecret, /^whsec_/);
      assert.notEqual(otherSecret, signingSecret);
      assert.notEqual(rootSecret, signingSecret);

      const mine = await callbackOf(key);
      assert.equal(signedWith(signingSecret, mine), true);
      assert.equal(signedWith(otherSecret, mine), false, "another key's secret must not verify it");
      assert.equal(signedWith(rootSecret, mine), false, "the installation's secret must not verify it");
      const theirs = await callbackOf(other.key);
      assert.equal(signedWith(otherSecret, theirs), true);
      assert.equal(signedWith(signingSecret, theirs), false);
      assert.equal(signedWith(rootSecret, theirs), false);
    });

    test('keys scoped otherwise or of the other environment have secrets of their own; a token does not read it', async () => {
      const secretOf = async (id: string) =>
        (await server.admin('GET', `/admin/v1/keys/${id}/callback-signing-secret`)).body.data
          .secret as string;
      const scoped = await server.createKey({
        name: 'cb-scoped',
        environment: 'test',
        scopes: ['orders:write'],
      });
      const live = await server.createKey({ name: 'cb-live', environment: 'live' });
      const secrets = [signingSecret, await secretOf(scoped.id), await secretOf(live.id), rootSecret];
      assert.equal(new Set(secrets).size, secrets.length, secrets.join(' '));
      for (const s of secrets) assert.match(s, /^whsec_/);
      // The live key reads its own, as the owner does.
      const account = await server.request('GET', '/api/v1/account', { key: live.key });
      assert.equal(account.body.data.callback_signing_secret, secrets[2]);
      // A token minted from the key works as the key, but does not read the key's secret.
      const minted = await server.request('POST', '/api/v1/tokens', { key, json: {} });
      assert.equal(minted.status, 201, minted.text);
      const viaToken = await server.request('GET', '/api/v1/account', { token: minted.body.data.token });
      assert.equal(viaToken.status, 200, viaToken.text);
      assert.equal(viaToken.body.data.id, keyId);
      assert.equal(viaToken.body.data.callback_signing_secret, null);
      const missing = await server.admin('GET', '/admin/v1/keys/key_nope/callback-signing-secret');
      assert.equal(missing.status, 404);
      assert.equal(missing.body.code, 'key_not_found');
    });
    after(async () => {
      await server.close();
      await receiver.close();
    });

    test('the result is POSTed to the callback with the custom auth header, signed', async () => {
      receiver.received.length = 0;
      const res = await server.request('POST', '/api/v1/data/orders', {
        key,
        json: order,
        headers: {
          'x-webhook-callback': receiver.url,
          'x-webhook-auth': 'Token partner-secret-123',
          'x-webhook-auth-header': 'X-Partner-Token',
        },
      });
      assert.equal(res.status, 202);
      const [delivery] = await receiver.waitFor(1);
      assert.ok(delivery);
      assert.equal(delivery.headers['x-partner-token'], 'Token partner-secret-123');
      assert.equal(delivery.headers.authorization, undefined);
      const verified = new Webhook(signingSecret).verify(
        delivery.body,
        delivery.headers as Record<string, string>,
      ) as {
        id: string;
        type: string;
        data: Record<string, unknown>;
      };
      assert.match(verified.id, /^evt_/);
      assert.equal(delivery.headers['webhook-id'], verified.id);
      assert.equal(verified.type, 'record.created');
      assert.equal(verified.data.record_id, res.body.id);
      assert.equal(verified.data.request_id, res.headers.get('request-id'));
      assert.equal(verified.data.endpoint, 'orders');
      assert.equal(verified.data.environment, 'test');
      assert.equal(verified.data.operation, 'create');
      assert.equal(verified.data.status, 'processed');
      assert.deepEqual((verified.data.record as { data: unknown }).data, order);
    });

    test('Authorization is the default auth header; the secret value is stored encrypted and never shown', async () => {
      receiver.received.length = 0;
      const res = await server.request('POST', '/api/v1/data/orders', {
        key,
        json: order,
        headers: { 'x-webhook-callback': receiver.url, 'x-webhook-auth': 'Bearer very-secret-value' },
      });
      const [delivery] = await receiver.waitFor(1);
      assert.equal(delivery?.headers.authorization, 'Bearer very-secret-value');
      const stored = await server.services.database.db
        .selectFrom('requests')
        .select('callback')
        .where('record_id', '=', res.body.id)
        .executeTakeFirstOrThrow();
      assert.ok(stored.callback && !stored.callback.includes('very-secret-value'));
      // The receiver has the delivery before the worker has recorded its outcome.
      const log = await until(
        () => server.admin('GET', `/admin/v1/deliveries?record_id=${res.body.id}`),
        (l) => l.body.data?.[0]?.status !== 'pending',
      );
      assert.equal(log.status, 200);
      assert.equal(log.body.data.length, 1);
      assert.equal(log.body.data[0].status, 'succeeded');
      assert.doesNotMatch(log.text, /very-secret-value/);
    });

    test('bad callback headers are refused with 400 and nothing is written', async () => {
      const db = server.services.database.db;
      const count = async () =>
        Number(
          (
            await db
              .selectFrom('requests')
              .select((eb) => eb.fn.countAll<number>().as('n'))
              .executeTakeFirstOrThrow()
          ).n,
        );
      const cases: Array<[Record<string, string>, string]> = [
        [{ 'x-webhook-callback': 'not a url' }, 'X-Webhook-Callback'],
        [{ 'x-webhook-callback': 'ftp://example.com/x' }, 'X-Webhook-Callback'],
        [{ 'x-webhook-callback': 'http://user:pw@example.com/x' }, 'X-Webhook-Callback'],
        [
          { 'x-webhook-callback': receiver.url, 'x-webhook-auth-header': 'Bad Header' },
          'X-Webhook-Auth-Header',
        ],
        [
          { 'x-webhook-callback': receiver.url, 'x-webhook-auth-header': 'Content-Length' },
          'X-Webhook-Auth-Header',
        ],
        [
          { 'x-webhook-callback': receiver.url, 'x-webhook-auth-header': 'Transfer-Encoding' },
          'X-Webhook-Auth-Header',
        ],
        [
          { 'x-webhook-callback': receiver.url, 'x-webhook-auth-header': 'webhook-signature' },
          'X-Webhook-Auth-Header',
        ],
        [{ 'x-webhook-auth': 'Bearer x' }, 'X-Webhook-Callback'],
        // Refused addresses given as such are refused now, not failed at delivery.
        [{ 'x-webhook-callback': 'http://169.254.169.254/latest/meta-data' }, 'X-Webhook-Callback'],
        [{ 'x-webhook-callback': 'http://10.1.2.3/hook' }, 'X-Webhook-Callback'],
        [{ 'x-webhook-callback': 'http://[::1]:8080/hook' }, 'X-Webhook-Callback'],
        [{ 'x-webhook-callback': 'https://[::ffff:192.168.0.1]/hook' }, 'X-Webhook-Callback'],
      ];
      for (const [headers, field] of cases) {
        const before = await count();
        const res = await server.request('POST', '/api/v1/data/orders', { key, json: order, headers });
        assert.equal(res.status, 400, JSON.stringify(headers));
        assert.equal(res.body.code, 'invalid_request');
        assert.equal(res.body.details[0].field, field);
        if (Object.keys(headers).length === 1 && /\/\/[\d[]/.test(headers['x-webhook-callback'] ?? '')) {
          assert.match(res.body.details[0].error, /^Refused target: .*GATEHOUSE_WEBHOOK_ALLOW_NETS/);
        }
        assert.equal(await count(), before);
      }
    });

    test('a failing callback is retried on the endpoint policy, every attempt logged, then marked failed', async () => {
      receiver.received.length = 0;
      receiver.respond = () => ({ status: 500 });
      const res = await server.request('POST', '/api/v1/data/orders', {
        key,
        json: order,
        headers: { 'x-webhook-callback': receiver.url },
      });
      const deliveries = await receiver.waitFor(3, 20_000);
      assert.equal(
        new Set(deliveries.map((d) => d.headers['webhook-id'])).size,
        1,
        'one event id across retries',
      );
      const gaps = deliveries.slice(1).map((d, i) => d.at - (deliveries[i]?.at ?? 0));
      assert.ok(
        gaps.every((g) => g >= 900),
        `retries came ${gaps} ms apart`,
      );
      let log = await server.admin('GET', `/admin/v1/deliveries?record_id=${res.body.id}`);
      for (let i = 0; i < 50 && log.body.data[0]?.status === 'pending'; i++) {
        await new Promise((r) => setTimeout(r, 100));
        log = await server.admin('GET', `/admin/v1/deliveries?record_id=${res.body.id}`);
      }
      const d = log.body.data[0];
      assert.equal(d.status, 'failed');
      assert.equal(d.attempts.length, 3);
      assert.deepEqual(
        d.attempts.map((a: { status_code: number }) => a.status_code),
        [500, 500, 500],
      );
      assert.equal(d.last_error, 'answered 500');
      await new Promise((r) => setTimeout(r, 1_500));
      assert.equal(receiver.received.length, 3, 'no fourth attempt');
      receiver.respond = () => ({ status: 200 });
    });

    test('a callback answered 410 Gone is not tried again: the delivery fails at once', async () => {
      receiver.received.length = 0;
      receiver.respond = () => ({ status: 410 });
      const res = await server.request('POST', '/api/v1/data/orders', {
        key,
        json: order,
        headers: { 'x-webhook-callback': receiver.url },
      });
      await receiver.waitFor(1, 20_000);
      const log = await until(
        () => server.admin('GET', `/admin/v1/deliveries?record_id=${res.body.id}`),
        (l) => l.body.data[0]?.status !== 'pending',
      );
      const d = log.body.data[0];
      assert.equal(d.status, 'failed');
      assert.deepEqual(
        d.attempts.map((a: { status_code: number }) => a.status_code),
        [410],
      );
      assert.equal(d.last_error, 'answered 410');
      // The endpoint's policy would have tried twice more, a second apart.
      await new Promise((r) => setTimeout(r, 2_500));
      assert.equal(receiver.received.length, 1, 'no second attempt');
      receiver.respond = () => ({ status: 200 });
    });

    test('callbacks to one URL about one record keep commit order: an update waits for the retried create', async () => {
      const r = await startReceiver();
      try {
        r.respond = (_received, index) => ({ status: index === 0 ? 500 : 200 });
        const headers = { 'x-webhook-callback': r.url };
        const created = await server.request('POST', '/api/v1/data/orders', { key, json: order, headers });
        await r.waitFor(1);
        const replaced = await server.request('PUT', `/api/v1/data/orders/${created.body.id}`, {
          key,
          json: { ...order, amount: 200 },
          headers,
        });
        assert.equal(replaced.status, 202, replaced.text);
        const got = await r.waitFor(3, 20_000);
        await new Promise((res) => setTimeout(res, 300));
        assert.deepEqual(
          got.map((d) => (JSON.parse(d.body) as { type: string }).type),
          ['record.created', 'record.created', 'record.updated'],
        );
      } finally {
        await r.close();
      }
    });

    for (const [variant, answer, error] of [
      [
        'with Upgrade',
        'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n',
        /switched protocols \(101\)/,
      ],
      // Without Upgrade headers Node reads it as the whole answer: the socket must not be reused.
      [
        'without Upgrade',
        'HTTP/1.1 101 Switching Protocols\r\n\r\n',
        /answered 101 instead of a final answer/,
      ],
    ] as const)
      test(`a receiver answering 101 Switching Protocols (${variant}) gets a recorded failure per attempt, then the delivery fails; others are served`, async () => {
        // Answers every request with 101 and keeps the connection open.
        const upgrading = createNetServer((socket) => {
          socket.on('data', () => socket.write(answer));
          socket.on('error', () => {});
        });
        await new Promise<void>((resolve) => upgrading.listen(0, '127.0.0.1', resolve));
        const address = upgrading.address();
        const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/hook`;
        try {
          const res = await server.request('POST', '/api/v1/data/orders', {
            key,
            json: order,
            headers: { 'x-webhook-callback': url },
          });
          assert.equal(res.status, 202);
          const log = await until(
            () => server.admin('GET', `/admin/v1/deliveries?record_id=${res.body.id}`),
            (l) => l.body.data?.[0]?.status === 'failed',
            20_000,
          );
          const d = log.body.data[0];
          assert.equal(d.attempts.length, 3, JSON.stringify(d));
          for (const a of d.attempts) {
            assert.equal(a.status_code, 101);
            assert.match(a.error, error);
          }
          // The slots it held are free: a callback to another receiver still arrives.
          receiver.received.length = 0;
          await server.request('POST', '/api/v1/data/orders', {
            key,
            json: order,
            headers: { 'x-webhook-callback': receiver.url },
          });
          await receiver.waitFor(1);
        } finally {
          upgrading.close();
        }
      });

    test('a delivery whose attempts were all used without an outcome (a worker stopped at its last) fails without another send', async () => {
      receiver.received.length = 0;
      const res = await server.request('POST', '/api/v1/data/orders', {
        key,
        json: order,
        headers: { 'x-webhook-callback': receiver.url },
      });
      await receiver.waitFor(1);
      const db = server.services.database.db;
      const delivered = await until(
        () => db.selectFrom('webhook_deliveries').selectAll().where('record_id', '=', res.body.id).execute(),
        (rows) => rows[0]?.status === 'succeeded',
        10_000,
      );
      const row = delivered[0] as { id: string; max_attempts: number };
      // As a worker killed at the last attempt leaves it: every attempt counted, pending, lease run out.
      await db
        .updateTable('webhook_deliveries')
        .set({
          status: 'pending',
          attempts: row.max_attempts,
          next_attempt_at: new Date(Date.now() - 1000).toISOString(),
        })
        .where('id', '=', row.id)
        .execute();
      const log = await until(
        () => server.admin('GET', `/admin/v1/deliveries?record_id=${res.body.id}`),
        (l) => l.body.data?.[0]?.status === 'failed',
        15_000,
      );
      const d = log.body.data[0];
      assert.match(d.last_error, /^not sent again: all 3 attempts were made/);
      const stored = await db
        .selectFrom('webhook_deliveries')
        .select(['attempts'])
        .where('id', '=', row.id)
        .executeTakeFirstOrThrow();
      assert.equal(Number(stored.attempts), row.max_attempts);
      assert.equal(receiver.received.length, 1, 'not sent again');
    });

    test('an auth header named __proto__ is sent like any other', async () => {
      receiver.received.length = 0;
      const res = await server.request('POST', '/api/v1/data/orders', {
        key,
        json: order,
        headers: {
          'x-webhook-callback': receiver.url,
          'x-webhook-auth-header': '__proto__',
          'x-webhook-auth': 'tok',
        },
      });
      assert.equal(res.status, 202);
      const [got] = await receiver.waitFor(1);
      const raw = got?.rawHeaders ?? [];
      assert.equal(
        raw[raw.findIndex((name) => name.toLowerCase() === '__proto__') + 1],
        'tok',
        raw.join(' '),
      );
    });

    test('a response body with NUL and invalid UTF-8 bytes is recorded, and the delivery fails after its retries', async () => {
      // A receiver answering 500 with the bytes ff fe 00 41: PostgreSQL text cannot hold a NUL.
      const binary = createServer((req, res) => {
        req.resume();
        req.on('end', () => res.writeHead(500).end(Buffer.from([0xff, 0xfe, 0x00, 0x41])));
      });
      await new Promise<void>((resolve) => binary.listen(0, '127.0.0.1', resolve));
      const address = binary.address();
      const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/hook`;
      try {
        await server.createEndpoint({
          slug: 'binary',
          name: 'Binary',
          schema: { type: 'object' },
          retry: { max_retries: 1, interval_seconds: 1 },
        });
        const res = await server.request('POST', '/api/v1/data/binary', {
          key,
          json: {},
          headers: { 'x-webhook-callback': url },
        });
        assert.equal(res.status, 202);
        const log = await until(
          () => server.admin('GET', `/admin/v1/deliveries?record_id=${res.body.id}`),
          (l) => l.body.data?.[0]?.status === 'failed',
          15_000,
        );
        const d = log.body.data[0];
        assert.equal(d.status, 'failed', JSON.stringify(d));
        assert.equal(d.attempts.length, 2);
        for (const a of d.attempts) {
          assert.equal(a.status_code, 500);
          assert.equal(a.response_body, '\uFFFD\uFFFD\uFFFDA');
        }
      } finally {
        await new Promise((resolve) => binary.close(resolve));
      }
    });
  });
}

for (const kind of databaseKinds) {
  test(`a key's callback signing secret is the same after a restart (${kind})`, async () => {
    const first = await startTestServer(kind);
    let running = true;
    try {
      const { key } = await first.createKey({ name: 'restart', environment: 'test' });
      const before = (await first.request('GET', '/api/v1/account', { key })).body.data
        .callback_signing_secret;
      assert.match(before, /^whsec_/);
      // The restart: this server stops, another starts over the same database.
      await first.stop();
      running = false;
      const again = await startPeerServer(first, {});
      try {
        const res = await fetch(`${again.url}/api/v1/account`, {
          headers: { authorization: `Bearer ${key}` },
        });
        assert.equal(res.status, 200);
        const body = (await res.json()) as { data: { callback_signing_secret: string } };
        assert.equal(body.data.callback_signing_secret, before);
      } finally {
        await again.close();
      }
    } finally {
      if (running) await first.close();
      else await first.database.drop();
    }
  });
}

test('X-Webhook-Auth values Node would not send are refused when the write is made, not at delivery', async () => {
  const { parseCallback } = await import('../src/webhooks/callback-headers.ts');
  const url = 'https://partner.example/hooks';
  for (const value of ['Bearer tok\u0100en', 'Bearer \u007f', 'a\u0001b']) {
    assert.throws(
      () => parseCallback({ headers: { 'x-webhook-callback': url, 'x-webhook-auth': value } }),
      (error: { status?: number; details?: Array<{ field: string }> }) =>
        error.status === 400 && error.details?.[0]?.field === 'X-Webhook-Auth',
      JSON.stringify(value),
    );
  }
  // Tab, visible ASCII and Latin-1 bytes (how Node hands over UTF-8 in a header) are fine.
  assert.equal(
    parseCallback({ headers: { 'x-webhook-callback': url, 'x-webhook-auth': 'Bearer\ta-Z~\u00c4\u0080' } })
      ?.value,
    'Bearer\ta-Z~\u00c4\u0080',
  );
});
