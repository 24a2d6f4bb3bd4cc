/**
 * What the rate-limit check adds to the create path, measured in one run:
 *   1. POST /api/v1/data/orders through a real `gatehouse serve` process (SQLite, in-memory
 *      limits) with a key limited per minute, day and month → the create path's cost per request
 *      (the server is one thread, so at saturation 1 / req/s is its CPU time per request).
 *   2. The same limit check the server runs per request (check every window, charge every
 *      window, build the headers), in this process, back to back → its cost per request.
 * Prints both and the ratio (goal: under 10%).
 *   node --import tsx bench/limits-overhead.ts     (BENCH_SECONDS=3 BENCH_CONNECTIONS=32)
 *   REDIS_URL=redis://127.0.0.1:6379 … adds the Redis-backed check for comparison.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServices } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import { memoryCounters, redisCounters } from '../src/limits/counters.ts';
import { rateLimitHeaders } from '../src/limits/headers.ts';
import { createRateLimiter, type RateLimiter } from '../src/limits/rate-limiter.ts';
import { connectRedis } from '../src/limits/redis.ts';
import { freePort, load, startProcess } from './lib.ts';

const seconds = Number(process.env.BENCH_SECONDS ?? 3);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 32);
const limits = { per_minute: 1_000_000_000, per_day: 1_000_000_000, per_month: 1_000_000_000 };

const dir = mkdtempSync(join(tmpdir(), 'gatehouse-bench-limits-'));
const databaseUrl = `sqlite:${join(dir, 'bench.db')}`;

async function createPathMicros(): Promise<number> {
  const services = await createServices(loadConfig({ DATABASE_URL: databaseUrl, LOG_LEVEL: 'silent' }));
  let key: string;
  try {
    await services.endpoints.create({
      slug: 'orders',
      name: 'Orders',
      schema: { type: 'object', properties: { order_id: { type: 'string' }, amount: { type: 'integer' } } },
    });
    key = (await services.keys.create({ name: 'bench', environment: 'test', limits })).key;
  } finally {
    await services.close();
  }
  const port = await freePort();
  const server = await startProcess(
    ['bin/gatehouse.js', 'serve'],
    { PORT: String(port), DATABASE_URL: databaseUrl, LOG_LEVEL: 'warn', REDIS_URL: '' },
    async () => (await fetch(`http://127.0.0.1:${port}/health`)).ok,
  );
  try {
    const options = {
      url: `http://127.0.0.1:${port}/api/v1/data/orders`,
      method: 'POST' as const,
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ order_id: 'ORD-1', amount: 4500 }),
      connections,
    };
    await load('warm-up', { ...options, seconds: 1 });
    const result = await load('POST create', { ...options, seconds });
    if (result.non2xx + result.errors > 0) throw new Error(`create path failed: ${JSON.stringify(result)}`);
    return 1e6 / result.rps;
  } finally {
    server.kill('SIGTERM');
  }
}

async function checkMicros(limiter: RateLimiter, rounds: number): Promise<number> {
  const run = async (n: number) => {
    for (let i = 0; i < n; i++) {
      const decision = await limiter.check('key_bench', limits);
      rateLimitHeaders(decision, Date.now());
    }
  };
  await run(Math.min(rounds, 20_000));
  const started = process.hrtime.bigint();
  await run(rounds);
  return Number(process.hrtime.bigint() - started) / 1000 / rounds;
}

async function main(): Promise<void> {
  const create = await createPathMicros();
  const family = (name: string) => memoryCounters(name);
  const memory = createRateLimiter({
    counters: { minute: family('m'), day: family('d'), month: family('mo') },
    defaults: {},
  });
  const check = await checkMicros(memory, 200_000);
  const lines = [
    `create path (POST, SQLite, c=${connections}, ${seconds}s): ${create.toFixed(1)} µs per request`,
    `limit check, in memory:                        ${check.toFixed(2)} µs per request`,
    `limit check / create path = ${((check / create) * 100).toFixed(1)}% (goal < 10%)`,
  ];
  if (process.env.REDIS_URL) {
    const redis = connectRedis({
      url: process.env.REDIS_URL,
      prefix: `gatehouse-bench:${process.pid}:`,
      timeoutMs: 1000,
      warn: () => {},
    });
    await new Promise((r) => setTimeout(r, 200));
    const shared = createRateLimiter({
      counters: {
        minute: redisCounters(redis, 'm'),
        day: redisCounters(redis, 'd'),
        month: redisCounters(redis, 'mo'),
      },
      defaults: {},
    });
    const viaRedis = await checkMicros(shared, 5_000);
    lines.push(
      `limit check, Redis (latency, mostly waiting): ${viaRedis.toFixed(1)} µs per request, sequential`,
    );
    const leftovers = await redis.client.keys(`gatehouse-bench:${process.pid}:*`);
    if (leftovers.length > 0) await redis.client.del(...leftovers);
    await redis.close();
  }
  process.stdout.write(`\n${lines.join('\n')}\n`);
  rmSync(dir, { recursive: true, force: true });
}

await main();
