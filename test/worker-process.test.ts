import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import {
  type ClusterSetup,
  type ServerProcess,
  setUpDatabase,
  spawnServer,
} from './helpers/limits-cluster.ts';
import { type Receiver, startReceiver } from './helpers/receiver.ts';

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
