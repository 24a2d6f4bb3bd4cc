import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { after, describe, test } from 'node:test';
import { freePort } from '../bench/lib.ts';
import { createServices } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import { createTestDatabase, databaseKinds, type TestDatabase } from './helpers/database.ts';
import { spawnGatehouse, waitHealthy } from './helpers/process.ts';
import { type Receiver, startReceiver } from './helpers/receiver.ts';

/**
 * Two `gatehouse serve` and two `gatehouse worker` processes on one PostgreSQL and one Redis;
 * load through both APIs; one of each killed with SIGKILL mid-run. Nothing acknowledged is lost,
 * every callback arrives, and duplicates stay within what the killed worker had in flight.
 */
describe('scale-out: 2 API processes + 2 workers on PostgreSQL and Redis, SIGKILL mid-run', {
  skip: !databaseKinds.includes('postgres'),
}, () => {
  let database: TestDatabase;
  let receiver: Receiver;
  const children: ChildProcess[] = [];
  const concurrency = 16;

  after(async () => {
    for (const child of children) child.kill('SIGKILL');
    await receiver?.close();
    await database?.drop();
  });

  function start(args: string[], env: Record<string, string>): ChildProcess {
    const child = spawnGatehouse(args, env);
    children.push(child);
    return child;
  }

  test('nothing acknowledged is lost; each event arrives, duplicates bounded', async () => {
    database = await createTestDatabase('postgres');
    receiver = await startReceiver();
    const env = {
      DATABASE_URL: database.url,
      REDIS_URL: 'redis://127.0.0.1:6379',
      GATEHOUSE_REDIS_PREFIX: `scale-${randomBytes(4).toString('hex')}:`,
      GATEHOUSE_WEBHOOK_ALLOW_NETS: '127.0.0.0/8',
      // Long enough that a receiver slowed by a busy host (it shares this test's event loop with
      // the load) still answers in time: a timed-out attempt the receiver did take is retried, a
      // duplicate the at-least-once contract allows but this test would count against the kill.
      GATEHOUSE_WEBHOOK_TIMEOUT_MS: '5000',
      GATEHOUSE_WEBHOOK_CONCURRENCY: String(concurrency),
      LOG_LEVEL: 'warn',
    };
    const setup = await createServices(loadConfig(env));
    await setup.endpoints.create({
      slug: 'orders',
      name: 'Orders',
      schema: { type: 'object' },
      retry: { max_retries: 5, interval_seconds: 1 },
    });
    const { key } = await setup.keys.create({ name: 'k', environment: 'test' });
    await setup.close();

    const ports = [await freePort(), await freePort()];
    const apis = ports.map((port) => start(['serve'], { ...env, PORT: String(port) }));
    const workers = [start(['worker'], env), start(['worker'], env)];
    for (const port of ports) await waitHealthy(port);

    const acknowledged = new Set<string>();
    let stop = false;
    const load = async (port: number) => {
      while (!stop) {
        try {
          const res = await fetch(`http://127.0.0.1:${port}/api/v1/data/orders`, {
            method: 'POST',
            headers: {
              authorization: `Bearer ${key}`,
              'content-type': 'application/json',
              'x-webhook-callback': receiver.url,
            },
            body: '{"n":1}',
          });
          if (res.status === 202) acknowledged.add(((await res.json()) as { id: string }).id);
        } catch {
          if (port === ports[0]) return; // this API process was killed
        }
      }
    };
    const loaders = [
      ...Array.from({ length: 6 }, () => load(ports[0] ?? 0)),
      ...Array.from({ length: 6 }, () => load(ports[1] ?? 0)),
    ];
    await new Promise((r) => setTimeout(r, 1_500));
    apis[0]?.kill('SIGKILL');
    workers[0]?.kill('SIGKILL');
    await new Promise((r) => setTimeout(r, 1_500));
    stop = true;
    await Promise.all(loaders);
    assert.ok(acknowledged.size > 50, `only ${acknowledged.size} writes acknowledged`);

    for (const id of acknowledged) {
      const res = await fetch(`http://127.0.0.1:${ports[1]}/api/v1/data/orders/${id}`, {
        headers: { authorization: `Bearer ${key}` },
      });
      assert.equal(res.status, 200, `acknowledged ${id} lost`);
    }
    const arrivals = () => {
      const byRecord = new Map<string, number>();
      for (const d of receiver.received) {
        const id = (JSON.parse(d.body) as { data: { record_id: string } }).data.record_id;
        byRecord.set(id, (byRecord.get(id) ?? 0) + 1);
      }
      return byRecord;
    };
    const deadline = Date.now() + 40_000;
    while (Date.now() < deadline && [...acknowledged].some((id) => !arrivals().has(id))) {
      await new Promise((r) => setTimeout(r, 200));
    }
    const got = arrivals();
    const missing = [...acknowledged].filter((id) => !got.has(id));
    assert.deepEqual(missing, [], `${missing.length} callbacks never arrived`);
    const duplicates = [...got.values()].reduce((sum, n) => sum + (n - 1), 0);
    assert.ok(
      duplicates <= concurrency,
      `${duplicates} duplicate deliveries, more than the killed worker had in flight`,
    );
  });
});
