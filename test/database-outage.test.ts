import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildApp, createServices, type Services } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import type { WebhookWorker } from '../src/webhooks/worker.ts';
import { createTestDatabase, databaseKinds, postgresAdmin, type TestDatabase } from './helpers/database.ts';
import { keyCall } from './helpers/key-call.ts';
import { capturedLogger } from './helpers/log-lines.ts';
import { type Receiver, startReceiver } from './helpers/receiver.ts';
import { until } from './helpers/until.ts';

const UNAVAILABLE =
  'The database is unavailable: requests are answered 503 service_unavailable and webhook work waits until it answers again. Check that it is running and accepts connections';

interface Delivered {
  data: { record_id: string };
}

const ANSWERS_AGAIN =
  /^The database answers again after \d+\.\d s unavailable: \d+ failures? in all \(requests answered 503, webhook passes and usage flushes retried\)$/;

/**
 * The database stops taking connections (ALLOW_CONNECTIONS false, its sessions ended) under an API
 * server and a webhook worker in one process, then takes them again: every request is a 503 with
 * Retry-After (the fast path's and Fastify's), the log says so in one warning, not a stack per
 * request or worker pass, and nothing acknowledged is lost. The suite's own database, restored
 * in `after` whatever happens.
 */
describe('PostgreSQL refuses connections, then takes them again', {
  skip: !databaseKinds.includes('postgres'),
}, () => {
  let database: TestDatabase;
  let name: string;
  let services: Services & { close(): Promise<void> };
  let app: FastifyInstance;
  let worker: WebhookWorker;
  let receiver: Receiver;
  let url: string;
  let key: string;
  const { logger, lines } = capturedLogger('info');

  const admin = postgresAdmin;
  const endSessions = () =>
    admin(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '${name}' AND pid <> pg_backend_pid()`,
    );

  before(async () => {
    database = await createTestDatabase('postgres');
    name = new URL(database.url).pathname.slice(1);
    receiver = await startReceiver();
    services = await createServices(
      loadConfig({
        DATABASE_URL: database.url,
        LOG_LEVEL: 'silent',
        GATEHOUSE_WEBHOOK_ALLOW_NETS: '127.0.0.0/8',
      }),
    );
    app = buildApp(services, { logger });
    worker = services.webhooks.createWorker(logger);
    worker.start();
    // Fastify answers with the address it listens on.
    url = await app.listen({ port: 0, host: '127.0.0.1' });
    await services.endpoints.create({ slug: 'orders', name: 'Orders', schema: { type: 'object' } });
    key = (await services.keys.create({ name: 'k', environment: 'test' })).key;
    await services.webhooks.subscriptions.create('orders', { environment: 'test', url: receiver.url });
  });

  after(async () => {
    await admin(`ALTER DATABASE ${name} ALLOW_CONNECTIONS true`);
    await worker?.stop();
    await app?.close();
    await services?.close();
    await receiver?.close();
    await database?.drop();
  });

  const call = (method: string, path: string, body?: unknown) => keyCall(url, key, method, path, body);

  test('503 + Retry-After for every request, one warning in the log, one line when it is back, and every 202 kept', async () => {
    const acknowledged: string[] = [];
    for (let i = 0; i < 3; i++) {
      const created = await call('POST', '/api/v1/data/orders', { n: i });
      assert.equal(created.status, 202);
      acknowledged.push(String(created.body.id));
    }
    // No outage yet: nothing says the database answers again.
    assert.deepEqual(
      lines.filter((line) => ANSWERS_AGAIN.test(line.msg)),
      [],
    );
    const before = lines.length;
    await admin(`ALTER DATABASE ${name} ALLOW_CONNECTIONS false`);
    await endSessions();

    // Creates and reads by id (the fast path), lists and a cache miss (Fastify's routes), while
    // the webhook worker polls on: every answer the same 503, none a 500.
    const answers = [];
    for (let i = 0; i < 5; i++) {
      answers.push(await call('POST', '/api/v1/data/orders', { n: `down ${i}` }));
      answers.push(await call('GET', `/api/v1/data/orders/${acknowledged[0]}`));
      answers.push(await call('GET', '/api/v1/data/orders'));
      await endSessions();
    }
    worker.wake();
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    for (const answer of answers) {
      assert.equal(answer.status, 503, JSON.stringify(answer.body));
      assert.equal(answer.body.code, 'service_unavailable');
      assert.equal(answer.body.error, 'Service unavailable');
      assert.equal(answer.retryAfter, '2');
    }

    const during = lines.slice(before);
    const warnings = during.filter((line) => line.msg === UNAVAILABLE);
    assert.equal(warnings.length, 1, JSON.stringify(during.map((line) => line.msg)));
    const [warning] = warnings;
    assert.equal(warning?.level, 40);
    // The database's (or the driver's) own words, whichever failure came first.
    assert.ok((warning?.cause as { message?: string } | undefined)?.message, 'the warning names the cause');
    assert.equal(warning?.err, undefined, 'no stack in the warning');
    // Nothing else: no "request failed" with its stack per request, no failed worker pass.
    assert.deepEqual(
      during.filter((line) => line.msg !== UNAVAILABLE).map((line) => line.msg),
      [],
    );

    await admin(`ALTER DATABASE ${name} ALLOW_CONNECTIONS true`);
    const back = await until(
      () => call('GET', '/api/v1/data/orders'),
      (answer) => answer.status === 200,
    );
    assert.equal(back.status, 200);
    const afterwards = await call('POST', '/api/v1/data/orders', { n: 'back' });
    assert.equal(afterwards.status, 202);
    acknowledged.push(String(afterwards.body.id));
    // The first commit after the outage says so, once, with the failures the warnings covered.
    const backLines = lines.slice(before).filter((line) => ANSWERS_AGAIN.test(line.msg));
    assert.equal(backLines.length, 1, JSON.stringify(lines.slice(before).map((line) => line.msg)));
    assert.equal(backLines[0]?.level, 30);
    assert.ok(Number(backLines[0]?.failures) >= 15, JSON.stringify(backLines[0]));
    assert.equal(typeof backLines[0]?.outage_ms, 'number');
    for (const id of acknowledged) {
      assert.equal(
        (await call('GET', `/api/v1/data/orders/${id}`)).status,
        200,
        `acknowledged ${id} is missing`,
      );
    }
    // The worker recovers by itself: every acknowledged create is delivered.
    const delivered = await until(
      async () => new Set(receiver.received.map((r) => (JSON.parse(r.body) as Delivered).data.record_id)),
      (ids) => acknowledged.every((id) => ids.has(id)),
      15_000,
    );
    assert.deepEqual(
      acknowledged.filter((id) => !delivered.has(id)),
      [],
    );
    // Said once: the commits since (creates, the worker's passes) say nothing more.
    assert.equal(lines.slice(before).filter((line) => ANSWERS_AGAIN.test(line.msg)).length, 1);
  });
});
