import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  type ClusterSetup,
  call,
  type ServerProcess,
  setUpDatabase,
  spawnServer,
} from './helpers/limits-cluster.ts';
import { awayFromMinuteEdge, until } from './helpers/until.ts';

describe('worker processes of one machine, without Redis', () => {
  let setup: ClusterSetup;
  let server: ServerProcess;

  before(async () => {
    setup = await setUpDatabase('sqlite');
    server = await spawnServer({ DATABASE_URL: setup.database.url, REDIS_URL: '' }, [
      '--import',
      'tsx',
      'test/helpers/limits-cluster-primary.ts',
    ]);
  });
  after(async () => {
    await server.stop();
    await setup.database.drop();
  });

  test('share one limit: the primary keeps the counters', async () => {
    await awayFromMinuteEdge(10);
    const { key } = await setup.createKey({ per_minute: 10 });
    const results = await Promise.all(
      Array.from({ length: 40 }, () =>
        fetch(`${server.url}/api/v1/data/orders`, {
          headers: { authorization: `Bearer ${key}`, connection: 'close' },
          signal: AbortSignal.timeout(15_000),
        }),
      ),
    );
    const statuses = results.map((r) => r.status);
    assert.equal(statuses.filter((s) => s === 200).length, 10, statuses.join());
    assert.equal(statuses.filter((s) => s === 429).length, 30);
    assert.doesNotMatch(server.log(), /does not share rate-limit counters/);
  });

  test('a burst refused by the minute is told so, not sent to wait for a day it has not used up', async () => {
    await awayFromMinuteEdge(10);
    const { key } = await setup.createKey({ per_minute: 4, per_day: 5, per_month: 6 });
    const results = await Promise.all(
      Array.from({ length: 40 }, () =>
        call(server.url, 'GET', '/api/v1/data/orders', key, { headers: { connection: 'close' } }),
      ),
    );
    assert.equal(results.filter((r) => r.status === 200).length, 4);
    // No request may see the others' charges that are refunded: the day, with a unit left, must
    // neither refuse nor be named with a Retry-After until midnight.
    const refused = results.filter((r) => r.status === 429);
    assert.deepEqual(
      [...new Set(refused.map((r) => `${r.body.details[0].field} ${r.headers.get('x-ratelimit-limit')}`))],
      ['per_minute 4'],
    );
    for (const r of refused) assert.ok(Number(r.headers.get('retry-after')) <= 60);
  });

  test('a primary that does not answer a check-and-charge: the failure policy applies, then limits again', async () => {
    const closed = await spawnServer(
      { DATABASE_URL: setup.database.url, REDIS_URL: '', GATEHOUSE_LIMITS_ON_REDIS_FAILURE: 'closed' },
      ['--import', 'tsx', 'test/helpers/limits-cluster-primary.ts'],
    );
    try {
      await awayFromMinuteEdge(30);
      const { key } = await setup.createKey({ per_minute: 2, per_day: 5 });
      // One kept-alive connection, held by one worker: a new one would wait for the stalled
      // primary to hand it over, never reaching a worker's check-and-charge.
      const get = () => call(closed.url, 'GET', '/api/v1/data/orders', key);
      assert.equal((await get()).status, 200);
      process.kill(closed.pid, 'SIGUSR2');
      await new Promise((r) => setTimeout(r, 500)); // the primary is in its stall
      const refused = await get();
      assert.equal(refused.status, 503);
      assert.equal(refused.body.code, 'limits_unavailable');
      const said = /The primary process gave no answer within \d+ ms/;
      assert.match(
        await until(
          async () => closed.log(),
          (log) => said.test(log),
        ),
        said,
      );
      // Once the primary answers again, the refused request was charged to no window.
      const back = await until(get, (r) => r.status !== 503, 15_000);
      assert.equal(back.status, 200);
      assert.equal((await get()).status, 429);
    } finally {
      await closed.stop();
    }
  });

  test('day and month quotas are exact across the workers, and survive a restart', async () => {
    await awayFromMinuteEdge(30);
    const monthly = await setup.createKey({ per_month: 3 });
    const daily = await setup.createKey({ per_day: 2 });
    // One connection each, one after the other: the cluster hands them to the workers in turn.
    const get = async (key: string) =>
      (
        await fetch(`${server.url}/api/v1/data/orders`, {
          headers: { authorization: `Bearer ${key}`, connection: 'close' },
          signal: AbortSignal.timeout(15_000),
        })
      ).status;
    const statuses = async (key: string, n: number) => {
      const out: number[] = [];
      for (let i = 0; i < n; i++) out.push(await get(key));
      return out;
    };
    assert.deepEqual(await statuses(monthly.key, 5), [200, 200, 200, 429, 429]);
    assert.deepEqual(await statuses(daily.key, 4), [200, 200, 429, 429]);
    // A month counter on a timer would overflow Node's 24.8-day limit (and expire at once).
    assert.doesNotMatch(server.log(), /TimeoutOverflowWarning/);

    await server.stop();
    server = await spawnServer({ DATABASE_URL: setup.database.url, REDIS_URL: '' }, [
      '--import',
      'tsx',
      'test/helpers/limits-cluster-primary.ts',
    ]);
    assert.deepEqual(await statuses(monthly.key, 2), [429, 429]);
    assert.deepEqual(await statuses(daily.key, 2), [429, 429]);
    const fresh = await setup.createKey({ per_month: 1 });
    assert.deepEqual(await statuses(fresh.key, 2), [200, 429]);
  });

  test('after a restart, keys busy on every worker at once still stop at their quota', async () => {
    await awayFromMinuteEdge(30);
    const keys: Array<{ key: string }> = [];
    for (let i = 0; i < 30; i++) keys.push(await setup.createKey({ per_day: 20 }));
    const get = async (key: string) =>
      (
        await fetch(`${server.url}/api/v1/data/orders`, {
          headers: { authorization: `Bearer ${key}`, connection: 'close' },
          signal: AbortSignal.timeout(30_000),
        })
      ).status;
    for (const { key } of keys) {
      const used = await Promise.all(Array.from({ length: 10 }, () => get(key)));
      assert.deepEqual(used, Array(10).fill(200));
    }
    await server.stop();
    server = await spawnServer({ DATABASE_URL: setup.database.url, REDIS_URL: '' }, [
      '--import',
      'tsx',
      'test/helpers/limits-cluster-primary.ts',
    ]);
    // Every key at once, on both workers: each worker's first request for a key finds the other
    // seeding its day counter, and must wait for it rather than count from zero.
    const after = await Promise.all(
      keys.map(({ key }) => Promise.all(Array.from({ length: 30 }, () => get(key)))),
    );
    const served = after.map((statuses) => statuses.filter((s) => s === 200).length);
    assert.deepEqual(served, Array(30).fill(10), `served per key after the restart: ${served.join()}`);
  });
});
