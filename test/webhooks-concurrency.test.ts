import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { AddressGuard } from '../src/infra/http-client/address-guard.ts';
import { createDispatcher } from '../src/webhooks/dispatcher.ts';
import { processOutbox } from '../src/webhooks/outbox.ts';
import { databaseKinds } from './helpers/database.ts';
import { startTestServer, type TestServer } from './helpers/server.ts';
import { until } from './helpers/until.ts';

/**
 * GATEHOUSE_WEBHOOK_PER_ORIGIN caps the attempts in flight at one receiving origin, however
 * many deliveries are due at once (docs/webhooks.md); the rest wait their turn and all arrive.
 */
for (const kind of databaseKinds) {
  describe(`webhook concurrency per origin (${kind})`, () => {
    let server: TestServer;
    let receiver: Server;
    let url: string;
    let open = 0;
    let most = 0;
    const arrived = new Set<string>();

    before(async () => {
      server = await startTestServer(
        kind,
        {
          GATEHOUSE_WEBHOOK_ALLOW_NETS: '127.0.0.0/8',
          GATEHOUSE_WEBHOOK_PER_ORIGIN: '3',
          GATEHOUSE_WEBHOOK_CONCURRENCY: '64',
          // Shorter than the wait of a delivery queued behind two rounds of the slow receiver.
          GATEHOUSE_WEBHOOK_TIMEOUT_MS: '1000',
        },
        { worker: true },
      );
      // A slow receiver that counts how many deliveries it holds at once.
      receiver = createServer((req, res) => {
        open++;
        most = Math.max(most, open);
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          setTimeout(() => {
            const event = JSON.parse(Buffer.concat(chunks).toString()) as { data: { record_id: string } };
            arrived.add(event.data.record_id);
            open--;
            res.end('ok');
          }, 400);
        });
      });
      await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
      const address = receiver.address();
      url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/hook`;
      await server.createEndpoint({ slug: 'orders', name: 'Orders', schema: { type: 'object' } });
    });

    after(async () => {
      await server.close();
      await new Promise((resolve) => receiver.close(resolve));
    });

    test('24 deliveries due at once reach one origin at most 3 at a time, each on its first attempt', async () => {
      const { key } = await server.createKey({ name: 'hooks', environment: 'test' });
      // Written in one transaction, so they are all due together.
      const ids: string[] = [];
      await Promise.all(
        Array.from({ length: 24 }, async (_, n) => {
          const res = await server.request('POST', '/api/v1/data/orders', {
            key,
            json: { n },
            headers: { 'x-webhook-callback': url },
          });
          assert.equal(res.status, 202, res.text);
          ids.push(res.body.id);
        }),
      );
      const deadline = Date.now() + 20_000;
      while (arrived.size < ids.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.equal(arrived.size, 24, 'every delivery arrived');
      assert.ok(most <= 3, `at most 3 at once, saw ${most}`);
      assert.ok(most >= 2, `deliveries ran in parallel (saw ${most})`);
      // None was started only to wait in a queue and time out: each took one attempt.
      // The receiver counts a delivery before the worker has recorded its outcome.
      const deliveries = await until(
        () =>
          server.services.database.db
            .selectFrom('webhook_deliveries')
            .select(['status', 'attempts'])
            .execute(),
        (rows) => rows.every((d) => d.status !== 'pending'),
      );
      assert.equal(deliveries.length, 24);
      for (const delivery of deliveries) {
        assert.equal(delivery.status, 'succeeded');
        assert.equal(Number(delivery.attempts), 1);
      }
    });
  });

  describe(`held deliveries on stop (${kind})`, () => {
    test('a worker stopping gives back the deliveries it held: due at once, the attempt not counted', async () => {
      const server = await startTestServer(kind, {
        GATEHOUSE_WEBHOOK_ALLOW_NETS: '127.0.0.0/8',
        GATEHOUSE_WEBHOOK_PER_ORIGIN: '1',
      });
      let answer: (() => void) | undefined;
      let seen = 0;
      const slow = createServer((req, res) => {
        seen++;
        req.resume();
        answer = () => res.end('ok');
      });
      await new Promise<void>((resolve) => slow.listen(0, '127.0.0.1', resolve));
      const address = slow.address();
      const hook = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/hook`;
      try {
        await server.createEndpoint({ slug: 'orders', name: 'Orders', schema: { type: 'object' } });
        const { key } = await server.createKey({ name: 'hooks', environment: 'test' });
        for (let n = 0; n < 3; n++) {
          const res = await server.request('POST', '/api/v1/data/orders', {
            key,
            json: { n },
            headers: { 'x-webhook-callback': hook },
          });
          assert.equal(res.status, 202);
        }
        const worker = server.services.webhooks.createWorker();
        worker.start();
        const deadline = Date.now() + 10_000;
        const db = server.services.database.db;
        const rows = () =>
          db.selectFrom('webhook_deliveries').select(['id', 'attempts', 'next_attempt_at']).execute();
        // One attempt in flight (the receiver holds it), one more claimed and held, one left.
        while (Date.now() < deadline) {
          const claimed = (await rows()).filter((r) => Number(r.attempts) === 1).length;
          if (seen === 1 && claimed === 2) break;
          await new Promise((r) => setTimeout(r, 20));
        }
        assert.equal(seen, 1);
        assert.equal((await rows()).filter((r) => Number(r.attempts) === 1).length, 2);
        const stopping = worker.stop();
        await new Promise((r) => setTimeout(r, 100));
        answer?.();
        await stopping;
        const after = await rows();
        assert.equal(seen, 1, 'nothing else was sent');
        const attempts = after.map((r) => Number(r.attempts)).sort();
        assert.deepEqual(attempts, [0, 0, 1], 'the held delivery was given back uncounted');
        const now = new Date().toISOString();
        for (const row of after.filter((r) => Number(r.attempts) === 0)) {
          assert.ok(
            String(row.next_attempt_at) <= now || new Date(String(row.next_attempt_at)) <= new Date(),
            'due now',
          );
        }
      } finally {
        await server.close();
        await new Promise((resolve) => slow.close(resolve));
      }
    });

    /** A server with `count` callback deliveries due to a receiver that counts what it gets. */
    async function queued(count: number) {
      const server = await startTestServer(kind, { GATEHOUSE_WEBHOOK_ALLOW_NETS: '127.0.0.0/8' });
      const received: number[] = [];
      const receiver = createServer((req, res) => {
        received.push(Date.now());
        req.resume();
        res.end('ok');
      });
      await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
      const address = receiver.address();
      const hook = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/hook`;
      await server.createEndpoint({ slug: 'orders', name: 'Orders', schema: { type: 'object' } });
      const { key } = await server.createKey({ name: 'hooks', environment: 'test' });
      for (let n = 0; n < count; n++) {
        const res = await server.request('POST', '/api/v1/data/orders', {
          key,
          json: { n },
          headers: { 'x-webhook-callback': hook },
        });
        assert.equal(res.status, 202);
      }
      const { db, dialect } = server.services.database;
      // Turned into deliveries now: what the worker would do first.
      while ((await processOutbox(db, dialect, server.services.encryptor)) > 0);
      return {
        server,
        received,
        rows: () =>
          db.selectFrom('webhook_deliveries').select(['attempts', 'status', 'next_attempt_at']).execute(),
        close: async () => {
          await server.close();
          await new Promise((resolve) => receiver.close(resolve));
        },
      };
    }

    /** Nothing was sent, and every delivery is pending, uncounted and due at once for the next worker. */
    async function untouched(setup: Awaited<ReturnType<typeof queued>>, count: number): Promise<void> {
      // Long enough for an attempt started behind the stop's back to reach the receiver.
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(setup.received.length, 0, 'nothing was sent after the stop was asked for');
      const rows = await setup.rows();
      assert.equal(rows.length, count);
      for (const row of rows) {
        assert.equal(row.status, 'pending');
        assert.equal(Number(row.attempts), 0, 'no attempt counted');
        assert.ok(new Date(String(row.next_attempt_at)) <= new Date(), 'due now, not under a lease');
      }
    }

    test('a worker stopped before its pass claims starts no attempt: SIGTERM takes no new work', async () => {
      const setup = await queued(2);
      try {
        const worker = setup.server.services.webhooks.createWorker();
        worker.start();
        await worker.stop();
        await untouched(setup, 2);
      } finally {
        await setup.close();
      }
    });

    test('a dispatcher stopped while it claims gives the claimed deliveries back and sends none', async () => {
      const setup = await queued(2);
      try {
        const { services } = setup.server;
        const { db, dialect } = services.database;
        const dispatcher = createDispatcher({
          db,
          dialect,
          encryptor: services.encryptor,
          guard: new AddressGuard(services.config.webhookAllowNets),
          callbackSecrets: services.webhooks.callbackSecrets,
          ...services.config.webhooks,
          disableAfterMs: 3_600_000,
        });
        // The claim is under way (its transaction not yet committed) when the stop comes.
        dispatcher.pump();
        await dispatcher.stop();
        await untouched(setup, 2);
      } finally {
        await setup.close();
      }
    });
  });
}
