import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { redisLocks } from '../src/idempotency/in-flight-locks.ts';
import { connectRedis, RedisUnavailableError, type SharedRedis } from '../src/limits/redis.ts';
import { type RedisProxy, redisUrl, startRedisProxy, uniquePrefix } from './helpers/limits-cluster.ts';

/** Holds the event loop, as a burst of requests on a loaded machine does. */
function busy(ms: number): void {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    // spin
  }
}

async function ready(redis: SharedRedis): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (redis.client.status !== 'ready') {
    if (Date.now() > deadline) throw new Error(`Redis not ready: ${redis.client.status}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('the Redis command deadline', () => {
  const warnings: string[] = [];
  const open: SharedRedis[] = [];
  let proxy: RedisProxy | undefined;
  const connect = (url: string) => {
    const redis = connectRedis({
      url,
      prefix: uniquePrefix(),
      timeoutMs: 100,
      warn: (message) => warnings.push(message),
    });
    open.push(redis);
    return redis;
  };
  after(async () => {
    for (const redis of open) await redis.close();
    await proxy?.close();
  });

  test('an answer that arrived while the event loop was busy is taken, not called a timeout', async () => {
    const redis = connect(redisUrl);
    await ready(redis);
    for (let i = 0; i < 3; i++) {
      const answer = redis.run((client) => client.ping());
      // After the command is written (auto-pipelining flushes in a setImmediate, queued before this
      // one), the loop is held for three deadlines: Redis answers in time, but the timer comes due
      // before the answer is read.
      setImmediate(() => busy(300));
      assert.equal(await answer, 'PONG');
    }
    // No breaker was opened: the next call goes to Redis.
    assert.equal(await redis.run((client) => client.ping()), 'PONG');
    assert.deepEqual(warnings, []);
  });

  test('a Redis that does not answer still fails the call at its deadline, then for a second at once', async () => {
    proxy = await startRedisProxy();
    const redis = connect(proxy.url);
    await ready(redis);
    proxy.freeze();
    const started = Date.now();
    await assert.rejects(
      redis.run((client) => client.ping()),
      RedisUnavailableError,
    );
    const waited = Date.now() - started;
    assert.ok(waited >= 100, `failed after ${waited} ms, before its deadline`);
    // The breaker is open: the next call fails without waiting for Redis.
    await assert.rejects(
      redis.run((client) => client.ping()),
      RedisUnavailableError,
    );
    assert.match(warnings.join('\n'), /Redis unavailable/);
    proxy.thaw();
  });

  test('an Idempotency-Key lock that reaches Redis after its request went on without it is let go', async () => {
    const stalled = await startRedisProxy();
    const redis = connect(stalled.url);
    try {
      await ready(redis);
      const locks = redisLocks(redis);
      // Redis stalls: the lock is given up on at the deadline and the request goes on without it.
      stalled.hold();
      assert.equal(await locks.acquire('late-lock', 'req_first', 90_000), 'unavailable');
      // Then the SET arrives and takes the lock, for a request that never releases it: a retry of
      // that request (its write failed, so nothing is stored to replay) would get 409 for 90 s.
      stalled.release();
      const deadline = Date.now() + 10_000;
      let again = await locks.acquire('late-lock', 'req_retry', 90_000);
      while (again !== 'acquired' && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        again = await locks.acquire('late-lock', 'req_retry', 90_000);
      }
      assert.equal(again, 'acquired');
    } finally {
      await stalled.close();
    }
  });

  test('an Idempotency-Key lock release Redis missed is not tried again once the connection is closed', async () => {
    const redis = connect(redisUrl);
    await ready(redis);
    let calls = 0;
    const failing: SharedRedis = {
      ...redis,
      run: () => {
        calls += 1;
        return Promise.reject(new RedisUnavailableError());
      },
    };
    const locks = redisLocks(failing);
    // Missed: kept to be tried again every second while Redis is away.
    await locks.release('closed-lock', 'req_token');
    assert.equal(calls, 1);
    await redis.close();
    const closedAt = calls;
    // Two retry rounds' time: none of them calls Redis (the process is stopping).
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    assert.equal(calls, closedAt);
  });
});
