import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { newId } from '../src/ids.ts';
import { databaseKinds } from './helpers/database.ts';
import {
  type ClusterSetup,
  call,
  type ServerProcess,
  setUpDatabase,
  spawnServer,
  startRedisProxy,
  uniquePrefix,
} from './helpers/limits-cluster.ts';
import { type PrivateServer, privateRedis } from './helpers/private-services.ts';
import { type Receiver, startReceiver } from './helpers/receiver.ts';
import { until } from './helpers/until.ts';

/** Polls (bounded, 20 s) until `check` holds; fails with the last value seen. */
async function eventually<T>(
  probe: () => Promise<T>,
  check: (value: T) => boolean,
  what: string,
): Promise<T> {
  const value = await until(probe, check, 20_000);
  assert.ok(check(value), `${what}: ${JSON.stringify(value)}`);
  return value;
}

const order = (n: number) => ({ order_id: `ORD-${n}`, amount: n });

/**
 * Multi-process mode when Redis dies and comes back: two `gatehouse serve` (one failing open,
 * one failing closed) and one `gatehouse worker` on one PostgreSQL and a Redis of the test's own,
 * killed with SIGKILL and started again empty on the same port. Nothing is restarted but Redis.
 */
describe('Redis killed and restarted under two API processes and a worker (PostgreSQL)', {
  skip: !databaseKinds.includes('postgres'),
}, () => {
  let redis: PrivateServer;
  let setup: ClusterSetup;
  let receiver: Receiver;
  let open: ServerProcess;
  let closed: ServerProcess;
  let worker: ChildProcess;
  let workerLog = '';
  let db: pg.Client;
  let token: string;
  let env: Record<string, string>;
  /** Cached by the closed-policy process before the outage, revoked through the other during it. */
  let revokedInOutage: { id: string; key: string };

  before(async () => {
    redis = await privateRedis();
    setup = await setUpDatabase('postgres');
    receiver = await startReceiver();
    db = new pg.Client({ connectionString: setup.database.url });
    await db.connect();
    token = setup.token;
    env = {
      DATABASE_URL: setup.database.url,
      REDIS_URL: redis.url,
      GATEHOUSE_REDIS_PREFIX: uniquePrefix(),
      GATEHOUSE_WEBHOOK_ALLOW_NETS: '127.0.0.0/8',
      // Only a Redis message can explain a change one process sees from the other.
      GATEHOUSE_CACHE_TTL_MS: '600000',
      // Each process's counts reach the usage table soon: what a quota is seeded from.
      GATEHOUSE_USAGE_FLUSH_MS: '100',
    };
    [open, closed] = await Promise.all([
      spawnServer(env),
      spawnServer({ ...env, GATEHOUSE_LIMITS_ON_REDIS_FAILURE: 'closed' }),
    ]);
    worker = spawn(process.execPath, ['bin/gatehouse.js', 'worker'], {
      env: { ...process.env, LOG_LEVEL: 'warn', ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    worker.stderr?.on('data', (chunk: Buffer) => {
      workerLog += chunk.toString();
    });
  });
  after(async () => {
    worker?.kill('SIGKILL');
    await Promise.all([open?.stop(), closed?.stop()]);
    await db?.end();
    await receiver?.close();
    await setup?.database.drop();
    await redis?.destroy();
  });

  /** Redis is counted again by both processes: a limited key's answers carry its headers. */
  async function countedAgain(key: string): Promise<void> {
    for (const server of [open, closed]) {
      await eventually(
        () => call(server.url, 'GET', '/api/v1/data/orders?limit=1', key),
        (r) => r.status === 200 && r.headers.get('x-ratelimit-limit') !== null,
        `${server.url} counts in Redis again`,
      );
    }
  }

  /** Sessions of the servers waiting for a lock (the table's, or the writer's turn behind it). */
  const waitingOnLocks = async () =>
    Number(
      (
        await db.query(
          "select count(*) as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'",
        )
      ).rows[0].n,
    );
  const revoke = (id: string) =>
    fetch(`${open.url}/admin/v1/keys/${id}/revoke`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
    });

  const callbacksOf = (ids: string[]) =>
    eventually(
      async () => {
        const arrived = new Set(
          receiver.received.map(
            (d) => (JSON.parse(d.body) as { data: { record_id: string } }).data.record_id,
          ),
        );
        return ids.filter((id) => !arrived.has(id));
      },
      (missing) => missing.length === 0,
      'callbacks never delivered',
    );

  test('while Redis is down: open serves and acknowledges durably, closed answers 503 in the envelope, each logs one warning, not a stack per request', async () => {
    const { key } = await setup.createKey({ per_day: 100_000 });
    await countedAgain(key);
    revokedInOutage = await setup.createKey();
    const cached = await call(closed.url, 'GET', '/api/v1/data/orders?limit=1', revokedInOutage.key);
    assert.equal(cached.status, 200);
    await redis.stop();
    assert.equal((await revoke(revokedInOutage.id)).status, 200);

    const acknowledged: string[] = [];
    for (let i = 0; i < 10; i++) {
      // Through the fast path (a create) and through Fastify (a list).
      const created = await call(open.url, 'POST', '/api/v1/data/orders', key, {
        json: order(i),
        headers: { 'x-webhook-callback': receiver.url },
      });
      assert.equal(created.status, 202, JSON.stringify(created.body));
      assert.equal(created.headers.get('x-ratelimit-limit'), null, 'uncounted: no made-up figures');
      acknowledged.push(created.body.id);
      assert.equal((await call(open.url, 'GET', '/api/v1/data/orders?limit=1', key)).status, 200);

      for (const refused of [
        await call(closed.url, 'POST', '/api/v1/data/orders', key, { json: order(i) }),
        await call(closed.url, 'GET', '/api/v1/data/orders?limit=1', key),
      ]) {
        assert.equal(refused.status, 503);
        assert.equal(refused.headers.get('retry-after'), '1');
        assert.deepEqual(
          { ...refused.body, request_id: undefined },
          {
            success: false,
            error: 'Rate limiting unavailable',
            code: 'limits_unavailable',
            details: [],
            request_id: undefined,
          },
        );
        assert.equal(refused.body.request_id, refused.headers.get('request-id'));
      }
    }
    for (const server of [open, closed]) {
      const ready = await fetch(`${server.url}/ready`);
      assert.equal(ready.status, 503);
      assert.deepEqual(await ready.json(), {
        status: 'not_ready',
        checks: { database: 'ok', redis: 'unreachable' },
      });
    }
    // The 503s are the policy at work, said once by the warning: no error line (with its stack) each.
    assert.match(
      closed.log(),
      /Redis unavailable: limits and idempotency locks follow their failure policy \(limits fail closed\)/,
    );
    assert.equal(closed.log().match(/"msg":"request failed"/g)?.length ?? 0, 0, closed.log());
    assert.match(
      open.log(),
      /Redis unavailable: limits and idempotency locks follow their failure policy \(limits fail open\)/,
    );
    assert.equal(open.log().match(/"msg":"request failed"/g)?.length ?? 0, 0, open.log());

    // Every 202 is stored, and the worker (which saw Redis go too) delivers each callback.
    for (const id of acknowledged) {
      assert.equal((await call(open.url, 'GET', `/api/v1/data/orders/${id}`, key)).status, 200);
    }
    await callbacksOf(acknowledged);
    assert.equal(worker.exitCode, null, workerLog);
  });

  test('Redis back (empty): ready, limits exact across both processes, revocations travel again, the worker goes on', async () => {
    await redis.start();
    for (const server of [open, closed]) {
      await eventually(
        async () => (await fetch(`${server.url}/ready`)).status,
        (status) => status === 200,
        `${server.url} /ready`,
      );
    }
    // Revoked while Redis was down: its message could not travel then, and must not be lost.
    await eventually(
      async () => (await call(closed.url, 'GET', '/api/v1/data/orders?limit=1', revokedInOutage.key)).status,
      (status) => status === 401,
      'a revocation made during the outage seen by the other process once Redis is back',
    );

    // Both count in Redis again (a probe key of its own: the polls served uncounted meanwhile
    // are in its usage), then one limit holds across both.
    await countedAgain((await setup.createKey({ per_day: 100_000 })).key);
    const { key } = await setup.createKey({ per_day: 3 });
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) {
      const r = await call(i % 2 ? closed.url : open.url, 'GET', '/api/v1/data/orders?limit=1', key);
      statuses.push(r.status);
    }
    assert.deepEqual(statuses, [200, 200, 200, 429, 429, 429]);

    // A key cached by the closed-policy process, revoked through the other: refused there too.
    const revoked = await setup.createKey();
    assert.equal((await call(closed.url, 'GET', '/api/v1/data/orders?limit=1', revoked.key)).status, 200);
    assert.equal((await revoke(revoked.id)).status, 200);
    await eventually(
      async () => (await call(closed.url, 'GET', '/api/v1/data/orders?limit=1', revoked.key)).status,
      (status) => status === 401,
      'revocation seen by the other process',
    );

    const { key: writer } = await setup.createKey();
    const created = await call(closed.url, 'POST', '/api/v1/data/orders', writer, {
      json: order(100),
      headers: { 'x-webhook-callback': receiver.url },
    });
    assert.equal(created.status, 202);
    await callbacksOf([created.body.id]);
    assert.equal(worker.exitCode, null, workerLog);
  });

  test('Idempotency-Key: a lock lost with Redis lets no duplicate write through; concurrent duplicates after recovery make one write', async () => {
    const { id: keyId, key } = await setup.createKey({ per_day: 100_000 });
    await countedAgain(key);
    const countKeyRecords = async (idempotencyKey: string) =>
      Number(
        (
          await db.query(
            'select count(*) as n from idempotency_keys where key_id = $1 and idempotency_key = $2',
            [keyId, idempotencyKey],
          )
        ).rows[0].n,
      );
    const recordsNow = async () => Number((await db.query('select count(*) as n from records')).rows[0].n);

    // The first write takes its lock in Redis, then waits on the database.
    const blocker = new pg.Client({ connectionString: setup.database.url });
    await blocker.connect();
    try {
      await blocker.query('begin');
      await blocker.query('lock table idempotency_keys in exclusive mode');
      const before = await recordsNow();
      const headers = { 'idempotency-key': 'lost-lock-1' };
      const first = call(open.url, 'POST', '/api/v1/data/orders', key, { json: order(1), headers });
      first.catch(() => {}); // awaited below; not an unhandled rejection meanwhile
      await eventually(waitingOnLocks, (waiting) => waiting === 1, 'the first write waits on the table');
      // Redis dies and comes back empty: the first write's lock is gone.
      await redis.stop();
      await redis.start();
      await countedAgain(key);
      const second = call(closed.url, 'POST', '/api/v1/data/orders', key, { json: order(1), headers });
      second.catch(() => {});
      await eventually(
        waitingOnLocks,
        (waiting) => waiting === 2,
        'the duplicate got past the lost lock and waits in the database too',
      );
      await blocker.query('commit');
      const answers = await Promise.all([first, second]);
      const statuses = answers.map((a) => a.status).sort();
      assert.deepEqual(statuses, [202, 409], JSON.stringify(answers.map((a) => a.body)));
      const conflict = answers.find((a) => a.status === 409);
      assert.equal(conflict?.body.code, 'idempotency_key_in_flight');
      assert.equal(await recordsNow(), before + 1);
      assert.equal(await countKeyRecords('lost-lock-1'), 1);
      // A repeat now replays the one write.
      const replay = await call(closed.url, 'POST', '/api/v1/data/orders', key, { json: order(1), headers });
      assert.equal(replay.status, 202);
      assert.equal(replay.headers.get('idempotent-replayed'), 'true');
      assert.equal(replay.body.id, answers.find((a) => a.status === 202)?.body.id);
    } finally {
      await blocker.end();
    }

    // Concurrent duplicates through both processes, Redis locks working again: one write.
    const before = await recordsNow();
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        call(i % 2 ? closed.url : open.url, 'POST', '/api/v1/data/orders', key, {
          json: order(2),
          headers: { 'idempotency-key': 'after-recovery' },
        }),
      ),
    );
    const ids = new Set(results.filter((r) => r.status === 202).map((r) => r.body.id));
    assert.equal(ids.size, 1, JSON.stringify(results.map((r) => r.body)));
    for (const r of results) assert.ok(r.status === 202 || r.status === 409, String(r.status));
    assert.equal(await recordsNow(), before + 1);
    assert.equal(await countKeyRecords('after-recovery'), 1);
  });
  test('a day quota used before Redis restarted empty still counts after it, in both processes; 503s count for nothing', async () => {
    const { id, key } = await setup.createKey({ per_day: 4 });
    for (let i = 0; i < 3; i++) {
      const r = await call(i % 2 ? closed.url : open.url, 'GET', '/api/v1/data/orders?limit=1', key);
      assert.equal(r.status, 200);
    }
    await redis.stop();
    for (let i = 0; i < 5; i++) {
      assert.equal((await call(closed.url, 'GET', '/api/v1/data/orders?limit=1', key)).status, 503);
    }
    const usage = async () =>
      (
        await db.query(
          'select status, sum(count - rate_limited)::int as n from usage_daily where key_id = $1 group by status order by status',
          [id],
        )
      ).rows;
    await eventually(
      usage,
      (rows) =>
        JSON.stringify(rows) ===
        JSON.stringify([
          { status: 200, n: 3 },
          { status: 503, n: 5 },
        ]),
      'both processes flushed their usage',
    );
    await redis.start();
    // 3 of 4 used, the 503s not among them: one more, then the quota is used up.
    const last = await eventually(
      () => call(closed.url, 'GET', '/api/v1/data/orders?limit=1', key),
      (r) => r.headers.get('x-ratelimit-limit') !== null,
      'counted in Redis again',
    );
    assert.equal(last.status, 200, JSON.stringify(last.body));
    assert.equal(last.headers.get('x-ratelimit-remaining'), '0');
    const refused = await eventually(
      () => call(open.url, 'GET', '/api/v1/data/orders?limit=1', key),
      (r) => r.headers.get('x-ratelimit-limit') !== null,
      'counted in Redis again',
    );
    assert.equal(refused.status, 429, JSON.stringify(refused.body));
    assert.equal(refused.body.code, 'rate_limited');
  });

  test('Idempotency-Key: a lock whose release Redis missed is let go once it answers, so the failed request can be sent again', async () => {
    // Redis behind a proxy that can stop answering (Redis itself stays up, the lock in it too).
    const proxy = await startRedisProxy(redis.url);
    const server = await spawnServer({ ...env, REDIS_URL: proxy.url });
    const blocker = new pg.Client({ connectionString: setup.database.url });
    await blocker.connect();
    try {
      const { key } = await setup.createKey({ per_day: 100_000 });
      await eventually(
        () => call(server.url, 'GET', '/api/v1/data/orders?limit=1', key),
        (r) => r.headers.get('x-ratelimit-limit') !== null,
        'counted in Redis',
      );
      // A replace of a record that does not exist: 404 from the writer, after the lock is taken.
      const path = `/api/v1/data/orders/${newId('record')}`;
      const send = () =>
        call(server.url, 'PUT', path, key, {
          json: order(1),
          headers: { 'idempotency-key': 'missed-release' },
        });
      await blocker.query('begin');
      await blocker.query('lock table records in exclusive mode');
      const first = send();
      first.catch(() => {});
      await eventually(waitingOnLocks, (waiting) => waiting === 1, 'the write waits on the table');
      proxy.freeze();
      await blocker.query('commit');
      const failed = await first;
      assert.equal(failed.status, 404, JSON.stringify(failed.body));
      proxy.thaw();
      await eventually(
        () => call(server.url, 'GET', '/api/v1/data/orders?limit=1', key),
        (r) => r.headers.get('x-ratelimit-limit') !== null,
        'counted in Redis again',
      );
      // Sent again with its key: answered for itself, not 409 in flight for the lock's 90 s.
      const again = await eventually(send, (r) => r.status !== 409, 'the key is still locked');
      assert.equal(again.status, 404, JSON.stringify(again.body));
      assert.equal(again.body.code, 'record_not_found');
    } finally {
      await blocker.end();
      await server.stop();
      await proxy.close();
    }
  });
});
