import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  type ClusterSetup,
  type ServerProcess,
  setUpDatabase,
  spawnServer,
} from './helpers/limits-cluster.ts';

async function awayFromMinuteEdge(seconds = 10): Promise<void> {
  const left = 60_000 - (Date.now() % 60_000);
  if (left < seconds * 1000) await new Promise((r) => setTimeout(r, left + 50));
}

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
    await awayFromMinuteEdge();
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
});
