import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { createServices, type Services } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import type { EndpointRuntime } from '../src/endpoints/endpoint-service.ts';
import { createCommand } from './helpers/commands.ts';
import { databaseKinds } from './helpers/database.ts';
import {
  type ClusterSetup,
  dropRedisPrefix,
  redisUrl,
  type ServerProcess,
  setUpDatabase,
  spawnServer,
  uniquePrefix,
} from './helpers/limits-cluster.ts';
import { type Receiver, startReceiver } from './helpers/receiver.ts';
import { until } from './helpers/until.ts';

/**
 * `gatehouse serve` and `gatehouse worker` as separate processes on one SQLite file without
 * Redis (README, DEPLOY.md's Procfile): the worker stays up until SIGTERM and delivers what the
 * API process queued.
 */
describe('gatehouse worker beside gatehouse serve on SQLite', () => {
  let setup: ClusterSetup;
  let server: ServerProcess;
  let worker: ChildProcess;
  let receiver: Receiver;
  let workerLog = '';

  before(async () => {
    setup = await setUpDatabase('sqlite');
    receiver = await startReceiver();
    const env = {
      DATABASE_URL: setup.database.url,
      GATEHOUSE_WEBHOOK_ALLOW_NETS: '127.0.0.0/8',
      GATEHOUSE_WEBHOOK_POLL_MS: '200',
    };
    server = await spawnServer(env);
    worker = spawn(process.execPath, ['bin/gatehouse.js', 'worker'], {
      env: { ...process.env, LOG_LEVEL: 'info', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    worker.stdout?.on('data', (chunk: Buffer) => {
      workerLog += chunk.toString();
    });
    worker.stderr?.on('data', (chunk: Buffer) => {
      workerLog += chunk.toString();
    });
  });
  after(async () => {
    if (worker.exitCode === null) worker.kill('SIGKILL');
    await server.stop();
    await receiver.close();
    await setup.database.drop();
  });

  test('the worker keeps running, delivers what serve queued, and exits 0 on SIGTERM', async () => {
    const sub = await fetch(`${server.url}/admin/v1/endpoints/orders/webhooks`, {
      method: 'POST',
      headers: { authorization: `Bearer ${setup.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ url: receiver.url, environment: 'test', events: ['record.created'] }),
    });
    assert.equal(sub.status, 201, await sub.text());
    // Longer than the worker once lived on its own (about a second).
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    assert.equal(worker.exitCode, null, `the worker exited: ${workerLog}`);
    const { key } = await setup.createKey();
    const created = await fetch(`${server.url}/api/v1/data/orders`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ order_id: 'W-1', amount: 5 }),
    });
    assert.equal(created.status, 202);
    const { id } = (await created.json()) as { id: string };
    const [delivery] = await receiver.waitFor(1);
    assert.ok(delivery?.body.includes(id), 'the record was delivered');
    const exited = new Promise<number | null>((resolve) => worker.once('exit', (code) => resolve(code)));
    worker.kill('SIGTERM');
    assert.equal(await exited, 0, workerLog);
    // Its journal says what it waited for: a worker has webhook attempts in flight, not requests.
    assert.match(workerLog, /SIGTERM: finishing in-flight webhook attempts, then exiting/);
  });
});

/**
 * SIGTERM ends `gatehouse worker` as soon as its attempts in flight are recorded: at once when
 * idle, and right after a slow receiver answers, its delivery recorded as succeeded.
 */
for (const kind of databaseKinds) {
  describe(`gatehouse worker on SIGTERM (${kind}${kind === 'postgres' ? ' and Redis' : ''})`, () => {
    let setup: ClusterSetup;
    let services: Services & { close(): Promise<void> };
    let receiver: Receiver;
    let env: Record<string, string>;
    const prefix = uniquePrefix();

    before(async () => {
      setup = await setUpDatabase(kind);
      receiver = await startReceiver();
      env = {
        DATABASE_URL: setup.database.url,
        GATEHOUSE_WEBHOOK_ALLOW_NETS: '127.0.0.0/8',
        ...(kind === 'postgres' ? { REDIS_URL: redisUrl, GATEHOUSE_REDIS_PREFIX: prefix } : {}),
      };
      services = await createServices(loadConfig({ ...env, LOG_LEVEL: 'silent' }));
      await services.webhooks.subscriptions.create('orders', {
        environment: 'test',
        url: receiver.url,
        events: ['record.created'],
      });
    });
    after(async () => {
      await services.close();
      await receiver.close();
      await setup.database.drop();
      if (kind === 'postgres') await dropRedisPrefix(prefix);
    });

    /** A worker process, once it says it runs; `exit` resolves with its code and when it exited. */
    async function startWorker() {
      const child = spawn(process.execPath, ['bin/gatehouse.js', 'worker'], {
        env: { ...process.env, LOG_LEVEL: 'info', ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let log = '';
      for (const stream of [child.stdout, child.stderr]) {
        stream?.on('data', (chunk: Buffer) => {
          log += chunk.toString();
        });
      }
      const exit = new Promise<{ code: number | null; at: number }>((resolve) =>
        child.once('exit', (code) => resolve({ code, at: Date.now() })),
      );
      const running = await until(
        async () => log,
        (text) => text.includes('webhook worker running') || child.exitCode !== null,
        30_000,
      );
      assert.match(running, /webhook worker running/, running);
      return { child, exit, log: () => log };
    }

    test('idle, it exits 0 at once', { timeout: 60_000 }, async () => {
      const worker = await startWorker();
      try {
        const signalled = Date.now();
        worker.child.kill('SIGTERM');
        const { code, at } = await worker.exit;
        assert.equal(code, 0, worker.log());
        assert.ok(at - signalled < 1_500, `exited ${at - signalled} ms after SIGTERM`);
      } finally {
        if (worker.child.exitCode === null) worker.child.kill('SIGKILL');
      }
    });

    test('with an attempt in flight, it exits 0 right after the receiver answers, the delivery succeeded', {
      timeout: 60_000,
    }, async () => {
      receiver.respond = () => ({ status: 200, delayMs: 1_000 });
      const worker = await startWorker();
      try {
        const orders = (await services.endpoints.runtime('orders')) as EndpointRuntime;
        await services.writer.writeAll([createCommand(orders, { order_id: 'S-1', amount: 1 })]);
        const [received] = await receiver.waitFor(1);
        worker.child.kill('SIGTERM');
        const { code, at } = await worker.exit;
        assert.equal(code, 0, worker.log());
        const answered = (received?.at ?? 0) + 1_000;
        assert.ok(at >= answered, 'it waited for the attempt in flight');
        assert.ok(at - answered < 1_500, `exited ${at - answered} ms after the receiver answered`);
        const rows = await services.database.db
          .selectFrom('webhook_deliveries')
          .select(['status', 'attempts'])
          .execute();
        assert.deepEqual(
          rows.map((r) => [r.status, Number(r.attempts)]),
          [['succeeded', 1]],
        );
        assert.equal(receiver.received.length, 1, 'sent once');
      } finally {
        if (worker.child.exitCode === null) worker.child.kill('SIGKILL');
      }
    });
  });
}
