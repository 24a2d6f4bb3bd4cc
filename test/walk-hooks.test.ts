import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { type Receiver, startReceiver } from './helpers/receiver.ts';
import { startDeliveringServer, startTestServer, type TestServer } from './helpers/server.ts';
import { until } from './helpers/until.ts';

/** Receivers that break off or answer with bytes that are no HTTP: each attempt's reason says so. */
describe('webhook attempts against broken receivers say what went wrong', () => {
  let server: TestServer;
  let receiver: Server;
  let base = '';

  before(async () => {
    server = await startTestServer(
      'sqlite',
      { GATEHOUSE_WEBHOOK_ALLOW_NETS: '127.0.0.0/8', GATEHOUSE_WEBHOOK_TIMEOUT_MS: '2000' },
      { worker: true },
    );
    receiver = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        if (req.url === '/cut') {
          // Promises 100 bytes, sends 3, then hangs up.
          res.writeHead(200, { 'content-length': '100' });
          res.write('abc');
          setTimeout(() => req.socket.destroy(), 50);
        } else if (req.url === '/garbage') {
          req.socket.end('HTTP/1.1 2OO OK\r\n\r\n');
        } else if (req.url === '/bad-chunk') {
          req.socket.end('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n');
        }
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    const address = receiver.address();
    base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    await server.createEndpoint({
      slug: 'orders',
      name: 'Orders',
      schema: { type: 'object' },
      retry: { max_retries: 1, interval_seconds: 1 },
    });
  });

  after(async () => {
    await server.close();
    receiver.closeAllConnections();
    await new Promise((resolve) => receiver.close(resolve));
  });

  async function settled(recordId: string) {
    for (let i = 0; i < 200; i++) {
      const log = await server.admin('GET', `/admin/v1/deliveries?record_id=${recordId}`);
      const delivery = log.body.data[0];
      if (delivery && delivery.status !== 'pending') return delivery;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`the delivery for ${recordId} never settled`);
  }

  const cases = [
    ['/cut', 200, 'the connection closed before the answer ended'],
    ['/garbage', null, 'the answer is not valid HTTP (Parse Error: Invalid status code)'],
    ['/bad-chunk', null, 'the answer is not valid HTTP (Parse Error: Invalid character in chunk size)'],
  ] as const;
  for (const [path, status, reason] of cases) {
    test(`${path}: every attempt is a failure with a clear reason`, async () => {
      const key = (await server.createKey({ name: `k${path}`, environment: 'test' })).key;
      const write = await server.request('POST', '/api/v1/data/orders', {
        key,
        json: { path },
        headers: { 'x-webhook-callback': `${base}${path}` },
      });
      assert.equal(write.status, 202);
      const delivery = await settled(write.body.id);
      assert.equal(delivery.status, 'failed');
      assert.equal(delivery.last_error, reason);
      assert.equal(delivery.last_status_code, status);
      assert.deepEqual(
        delivery.attempts.map((a: { error: string; status_code: number | null }) => [a.status_code, a.error]),
        [
          [status, reason],
          [status, reason],
        ],
      );
    });
  }
});

/** A worker killed mid-attempt leaves the attempt counted but unlogged: the next claim logs it. */
describe('an attempt interrupted by a dead worker has its line in the delivery log', () => {
  let server: TestServer;
  let receiver: Receiver;

  before(async () => {
    server = await startDeliveringServer();
    receiver = await startReceiver();
    await server.createEndpoint({
      slug: 'orders',
      name: 'Orders',
      schema: { type: 'object' },
      retry: { max_retries: 3, interval_seconds: 3600 },
    });
  });

  after(async () => {
    await server.close();
    await receiver.close();
  });

  test('attempts listed match the count: answered 500, interrupted, then delivered', async () => {
    receiver.respond = (_received, index) => ({ status: index === 0 ? 500 : 200 });
    const key = (await server.createKey({ name: 'k', environment: 'test' })).key;
    const write = await server.request('POST', '/api/v1/data/orders', {
      key,
      json: { n: 1 },
      headers: { 'x-webhook-callback': receiver.url },
    });
    const db = server.services.database.db;
    const [first] = await until(
      () => db.selectFrom('webhook_deliveries').selectAll().where('record_id', '=', write.body.id).execute(),
      (rows) => rows[0]?.last_status_code === 500,
      10_000,
    );
    assert.ok(first);
    // As a worker SIGKILLed during the second attempt leaves it: counted at its claim, no outcome
    // recorded, and its lease run out.
    const claimedAt = new Date(Date.now() - 30_000).toISOString();
    await db
      .updateTable('webhook_deliveries')
      .set({ attempts: 2, updated_at: claimedAt, next_attempt_at: new Date(Date.now() - 1000).toISOString() })
      .where('id', '=', first.id)
      .execute();
    const log = await until(
      () => server.admin('GET', `/admin/v1/deliveries/${first.id}`),
      (l) => l.body.data?.status === 'succeeded',
      15_000,
    );
    const d = log.body.data;
    assert.equal(d.attempt_count, 3);
    assert.deepEqual(
      d.attempts.map((a: { status_code: number | null; error: string | null }) => [a.status_code, a.error]),
      [
        [500, 'answered 500'],
        [null, 'no outcome: its worker stopped mid-attempt (or its lease ran out), so it is made again'],
        [200, null],
      ],
    );
    assert.equal(d.attempts[1].attempted_at, claimedAt);
    assert.equal(receiver.received.length, 2);
  });
});
