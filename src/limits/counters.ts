import { RateLimiterMemory, RateLimiterRedis, type RateLimiterRes } from 'rate-limiter-flexible';
import type { SharedRedis } from './redis.ts';

/**
 * Named counters that expire, in memory or in Redis. rate-limiter-flexible does the atomic
 * increment-with-expiry (a Lua script on Redis); whether a count is over a limit is decided by
 * the caller, because limits differ per API key and change at runtime while a limiter's
 * `points` is fixed. So the limiter is built with a limit it can never reach.
 */
export interface Counters {
  /** True when the counts are shared with other processes (Redis). */
  readonly shared: boolean;
  get(name: string): Promise<number>;
  /** Adds (or, negative, refunds) points; a new counter lives `ttlSeconds` (0: until deleted). */
  add(name: string, points: number, ttlSeconds: number): Promise<number>;
  delete(name: string): Promise<void>;
}

const UNREACHABLE = Number.MAX_SAFE_INTEGER;

function consumed(res: RateLimiterRes | null): number {
  return res ? res.consumedPoints : 0;
}

export function memoryCounters(family: string): Counters {
  const limiter = new RateLimiterMemory({ keyPrefix: family, points: UNREACHABLE, duration: 0 });
  return {
    shared: false,
    get: async (name) => consumed(await limiter.get(name)),
    async add(name, points, ttlSeconds) {
      const options = { customDuration: ttlSeconds };
      const res =
        points >= 0
          ? await limiter.penalty(name, points, options)
          : await limiter.reward(name, -points, options);
      return res.consumedPoints;
    },
    async delete(name) {
      await limiter.delete(name);
    },
  };
}

export function redisCounters(redis: SharedRedis, family: string): Counters {
  const limiter = new RateLimiterRedis({
    storeClient: redis.client,
    keyPrefix: `${redis.prefix}${family}`,
    points: UNREACHABLE,
    duration: 0,
  });
  return {
    shared: true,
    get: (name) => redis.run(async () => consumed(await limiter.get(name))),
    add: (name, points, ttlSeconds) =>
      redis.run(async () => {
        const options = { customDuration: ttlSeconds };
        const res =
          points >= 0
            ? await limiter.penalty(name, points, options)
            : await limiter.reward(name, -points, options);
        return res.consumedPoints;
      }),
    delete: (name) =>
      redis.run(async () => {
        await limiter.delete(name);
      }),
  };
}
