import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { generateSecret } from '../src/infra/crypto/token-format.ts';
import { databaseKinds } from './helpers/database.ts';
import {
  type ClusterSetup,
  call,
  dropRedisPrefix,
  freePort,
  type RedisProxy,
  type Reply,
  redisUrl,
  type ServerProcess,
  setUpDatabase,
  spawnServer,
  startRedisProxy,
  uniquePrefix,
} from './helpers/limits-cluster.ts';

const order = { order_id: 'ORD-1', amount: 100 };

/** A GET from a chosen loopback address: another client than the rest of the tests. */
function getFrom(localAddress: string, url: string, key: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { localAddress, headers: { authorization: `Bearer ${key}` } }, (res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => {
        text += chunk.toString();
      });
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: new Headers(), body: JSON.parse(text) }),
      );
    });
    req.on('error', reject);
    req.setTimeout(15_000, () => req.destroy(new Error('request hung')));
    req.end();
  });
}

async function awayFromMinuteEdge(seconds = 10): Promise<void> {
  const left = 60_000 - (Date.now() % 60_000);
  if (left < seconds * 1000) await new Promise((r) => setTimeout(r, left + 50));
}

for (const kind of databaseKinds) {
  describe(`two server processes sharing one Redis, on ${kind}`, () => {
    let setup: ClusterSetup;
    let servers: ServerProcess[];

    const prefix = uniquePrefix();

    before(async () => {
      setup = await setUpDatabase(kind);
      const env = {
        DATABASE_URL: setup.database.url,
        REDIS_URL: redisUrl,
        GATEHOUSE_REDIS_PREFIX: prefix,
        GATEHOUSE_AUTH_FAILURE_LIMIT: '4',
        // The tests' own requests come from 127.0.0.1: X-Forwarded-For names another client.
        GATEHOUSE_TRUST_PROXY: '127.0.0.1',
      };
      servers = await Promise.all([spawnServer(env), spawnServer(env)]);
    });
    after(async () => {
      await Promise.all(servers.map((s) => s.stop()));
      await setup.database.drop();
      await dropRedisPrefix(prefix);
    });

    test('enforce one per-minute limit exactly, whichever process answers', async () => {
      await awayFromMinuteEdge();
      const { key } = await setup.createKey({ per_minute: 10 });
      const results = await Promise.all(
        Array.from({ length: 30 }, (_, i) =>
          call((servers[i % 2] as ServerProcess).url, 'GET', '/api/v1/data/orders', key),
        ),
      );
      const ok = results.filter((r) => r.status === 200);
      const limited = results.filter((r) => r.status === 429);
      assert.equal(ok.length, 10, results.map((r) => r.status).join());
      assert.equal(limited.length, 20);
      for (const r of limited) assert.equal(r.body.code, 'rate_limited');
      // Both processes answered some of the successes.
      const remaining = ok.map((r) => Number(r.headers.get('x-ratelimit-remaining'))).sort((a, b) => a - b);
      assert.deepEqual(remaining, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
      const minuteEnd = (Math.floor(Date.now() / 60_000) + 1) * 60;
      for (const r of [...ok, ...limited]) {
        assert.equal(r.headers.get('x-ratelimit-limit'), '10');
        assert.equal(r.headers.get('x-ratelimit-reset'), String(minuteEnd));
        assert.equal(r.headers.get('ratelimit-policy'), '"minute";q=10;w=60');
        assert.match(r.headers.get('ratelimit') ?? '', /^"minute";r=\d+;t=\d+$/);
      }
      for (const r of limited) assert.ok(Number(r.headers.get('retry-after')) >= 1);
    });

    test('a monthly quota and a refusal that charges no other window hold across processes', async () => {
      await awayFromMinuteEdge();
      const { id, key } = await setup.createKey({ per_minute: 4, per_month: 6 });
      const first = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          call((servers[i % 2] as ServerProcess).url, 'GET', '/api/v1/data/orders', key),
        ),
      );
      assert.equal(first.filter((r) => r.status === 200).length, 4);
      const account = await call((servers[0] as ServerProcess).url, 'GET', '/api/v1/account', key);
      assert.equal(account.status, 429);
      assert.equal(account.body.code, 'rate_limited');
      assert.equal(account.headers.get('x-ratelimit-limit'), '4');
      // The 7 minute-refusals were charged to no window: Redis holds 4 for the month, not 11.
      const redis = new Redis(redisUrl);
      try {
        const month = new Date().toISOString().slice(0, 7);
        assert.equal(await redis.get(`${prefix}rl:month:${id}:${month}`), '4');
      } finally {
        redis.disconnect();
      }
    });

    test('a burst refused by the minute is told so, not sent to wait for a day it has not used up', async () => {
      await awayFromMinuteEdge();
      const { key } = await setup.createKey({ per_minute: 4, per_day: 5, per_month: 6 });
      const results = await Promise.all(
        Array.from({ length: 40 }, (_, i) =>
          call((servers[i % 2] as ServerProcess).url, 'GET', '/api/v1/data/orders', key),
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
      const account = await call((servers[0] as ServerProcess).url, 'GET', '/api/v1/account', key);
      assert.equal(account.status, 429);
    });

    test('invalid keys from one address add up across processes, and both then refuse it before any lookup', async () => {
      const [a, b] = servers as [ServerProcess, ServerProcess];
      const guess = (base: string) =>
        getFrom('127.0.0.5', `${base}/api/v1/data/orders`, generateSecret('gk_test'));
      for (const base of [a.url, b.url, a.url, b.url]) assert.equal((await guess(base)).status, 401);
      // b saw the 4th failure: blocked there at once.
      assert.equal((await guess(b.url)).status, 429);
      // a learns of it at the address's next failure there, then blocks too.
      assert.equal((await guess(a.url)).status, 401);
      const blocked = await guess(a.url);
      assert.equal(blocked.status, 429);
      assert.equal(blocked.body.code, 'too_many_failed_attempts');
    });

    test('an IPv6 client is counted in Redis per /64: its addresses add up across processes', async () => {
      const [a, b] = servers as [ServerProcess, ServerProcess];
      const guess = (base: string, client: string) =>
        call(base, 'GET', '/api/v1/data/orders', generateSecret('gk_test'), {
          headers: { 'x-forwarded-for': client },
        });
      const bases = [a.url, b.url, a.url, b.url];
      for (const [i, base] of bases.entries())
        assert.equal((await guess(base, `2001:db8:77:1::${i + 1}`)).status, 401, `guess ${i + 1}`);
      assert.equal((await guess(b.url, '2001:db8:77:1::99')).status, 429, 'b blocks the /64');
      const redis = new Redis(redisUrl);
      try {
        assert.equal(await redis.get(`${prefix}authfail:2001:db8:77:1::/64`), '4', 'one counter for the /64');
      } finally {
        redis.disconnect();
      }
      assert.equal((await guess(a.url, '2001:db8:77:2::1')).status, 401, 'another /64 is not blocked');
    });

    test("a key's new limit, set through one process, is enforced by the other at once", async () => {
      await awayFromMinuteEdge();
      const { id, key } = await setup.createKey({ per_minute: 100 });
      const [a, b] = servers as [ServerProcess, ServerProcess];
      for (let i = 0; i < 3; i++)
        assert.equal((await call(b.url, 'GET', '/api/v1/data/orders', key)).status, 200);
      const patched = await fetch(`${a.url}/admin/v1/keys/${id}`, {
        method: 'PATCH',
        headers: { authorization: `Bearer ${setup.token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ limits: { per_minute: 3 } }),
      });
      assert.equal(patched.status, 200);
      // The change travels over Redis pub/sub: allow it a moment (bounded), never a cache lifetime.
      const deadline = Date.now() + 2_000;
      let res: Reply;
      do {
        res = await call(b.url, 'GET', '/api/v1/data/orders', key);
      } while (res.status === 200 && Date.now() < deadline);
      assert.equal(res.status, 429);
      assert.equal(res.headers.get('x-ratelimit-limit'), '3');
    });

    test('concurrent duplicates with one Idempotency-Key across both processes make one write', async () => {
      const { key } = await setup.createKey();
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          call((servers[i % 2] as ServerProcess).url, 'POST', '/api/v1/data/orders', key, {
            json: order,
            headers: { 'idempotency-key': 'cross-process' },
          }),
        ),
      );
      const accepted = results.filter((r) => r.status === 202);
      const inFlight = results.filter((r) => r.status === 409);
      assert.equal(accepted.length + inFlight.length, 10, results.map((r) => r.status).join());
      assert.equal(new Set(accepted.map((r) => r.body.id)).size, 1);
      for (const r of inFlight) assert.equal(r.body.code, 'idempotency_key_in_flight');
      const list = await call((servers[1] as ServerProcess).url, 'GET', '/api/v1/data/orders?limit=100', key);
      assert.equal(list.body.data.length, 1);
    });
  });
}

describe('Redis failing mid-run', () => {
  let setup: ClusterSetup;
  let proxy: RedisProxy;
  let open: ServerProcess;
  let closed: ServerProcess;
  const prefix = uniquePrefix();

  before(async () => {
    setup = await setUpDatabase('sqlite');
    proxy = await startRedisProxy();
    const env = {
      DATABASE_URL: setup.database.url,
      REDIS_URL: proxy.url,
      GATEHOUSE_REDIS_PREFIX: prefix,
      GATEHOUSE_REDIS_TIMEOUT_MS: '200',
    };
    [open, closed] = await Promise.all([
      spawnServer(env),
      spawnServer({ ...env, GATEHOUSE_LIMITS_ON_REDIS_FAILURE: 'closed' }),
    ]);
  });
  after(async () => {
    await Promise.all([open.stop(), closed.stop()]);
    await proxy.close();
    await setup.database.drop();
    await dropRedisPrefix(prefix);
  });

  test('fail open by default (logged), fail closed when configured, never a hang; limits resume after', async () => {
    await awayFromMinuteEdge(20);
    const { key } = await setup.createKey({ per_minute: 3 });
    assert.equal((await call(open.url, 'GET', '/api/v1/data/orders', key)).status, 200);
    proxy.freeze();
    for (let i = 0; i < 6; i++) {
      const res = await call(open.url, 'GET', '/api/v1/data/orders', key);
      assert.equal(res.status, 200, 'fail open: served although the limit is 3');
      assert.equal(res.headers.get('x-ratelimit-limit'), null, 'uncounted requests carry no made-up figures');
    }
    const refused = await call(closed.url, 'GET', '/api/v1/data/orders', key);
    assert.equal(refused.status, 503);
    assert.equal(refused.body.code, 'limits_unavailable');
    assert.equal(refused.headers.get('retry-after'), '1');
    assert.match(open.log(), /Redis unavailable/);
    assert.match(open.log(), /"level":40/);

    proxy.thaw();
    // Reconnection happens in the background; wait (bounded) until limits are counted again.
    const deadline = Date.now() + 20_000;
    let res: Reply;
    do {
      await new Promise((r) => setTimeout(r, 300));
      res = await call(open.url, 'GET', '/api/v1/data/orders', key);
    } while (res.headers.get('x-ratelimit-limit') === null && Date.now() < deadline);
    assert.equal(res.headers.get('x-ratelimit-limit'), '3', open.log());
    let status = res.status;
    for (let i = 0; i < 3 && status === 200; i++)
      status = (await call(open.url, 'GET', '/api/v1/data/orders', key)).status;
    assert.equal(status, 429);
  });

  test('a check-and-charge that reaches Redis after the server gave up on it (503) is charged to no window', async () => {
    await awayFromMinuteEdge(20);
    const { key } = await setup.createKey({ per_minute: 5 });
    const orders = () => call(closed.url, 'GET', '/api/v1/data/orders', key);
    /** The next answer past Redis's failures and its one-second pause after them (bounded). */
    const counted = async () => {
      const deadline = Date.now() + 20_000;
      let res = await orders();
      while (res.status === 503 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
        res = await orders();
      }
      return res;
    };
    const first = await counted();
    assert.equal(first.status, 200, closed.log());
    assert.equal(first.headers.get('x-ratelimit-remaining'), '4');

    // Redis stalls: the script waits in the network, the server answers 503 at its deadline.
    proxy.hold();
    const refused = await orders();
    assert.equal(refused.status, 503);
    assert.equal(refused.body.code, 'limits_unavailable');
    // Then it arrives and runs: the request it charged was refused, so it must not count.
    proxy.release();

    const next = await counted();
    assert.equal(next.status, 200, closed.log());
    assert.equal(next.headers.get('x-ratelimit-remaining'), '3', 'the refused request used a unit');
  });
});

describe('Redis refusing connections from the start', () => {
  let setup: ClusterSetup;
  let server: ServerProcess;
  const prefix = uniquePrefix();

  before(async () => {
    setup = await setUpDatabase('sqlite');
    // A port nobody listens on: every connection attempt is refused, and retried every ≤ 2 s.
    const refused = await freePort();
    server = await spawnServer({
      DATABASE_URL: setup.database.url,
      REDIS_URL: `redis://127.0.0.1:${refused}`,
      GATEHOUSE_REDIS_PREFIX: prefix,
      GATEHOUSE_REDIS_TIMEOUT_MS: '200',
    });
  });
  after(async () => {
    await server.stop();
    await setup.database.drop();
  });

  test('requests are served uncounted and the documented warning is logged, not only the reconnect errors', async () => {
    const { key } = await setup.createKey({ per_minute: 3 });
    // The reconnect errors start at once; let one be logged before the first request.
    const deadline = Date.now() + 10_000;
    while (!/Redis connection error/.test(server.log()) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
    // It says what to look at, not only that something failed (an operator's first start).
    assert.match(
      server.log(),
      /Redis connection error: check REDIS_URL, and that Redis is running and reachable from here \(limits fail open\)/,
    );
    for (let i = 0; i < 5; i++) {
      const res = await call(server.url, 'GET', '/api/v1/data/orders', key);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('x-ratelimit-limit'), null);
    }
    assert.match(
      server.log(),
      /Redis unavailable: limits and idempotency locks follow their failure policy \(limits fail open\)/,
    );
  });
});
