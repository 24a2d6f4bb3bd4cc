import type { Redis } from 'ioredis';
import { RateLimiterRedis, type RateLimiterRes } from 'rate-limiter-flexible';
import type { SharedRedis } from './redis.ts';

/**
 * Named counters that expire, in memory or in Redis. rate-limiter-flexible does the atomic
 * increment-with-expiry (a Lua script on Redis); whether a count is over a limit is decided by
 * the caller, because limits differ per API key and change at runtime while a limiter's
 * `points` is fixed. So the limiter is built with a limit it can never reach.
 */
export interface Counters {
  /** True when the counts are shared with other processes (Redis, or a cluster's primary). */
  readonly shared: boolean;
  /**
   * True when the counts outlive every Gatehouse process (Redis). Otherwise they live in a
   * process's memory: a restart starts them empty (day and month are seeded from the usage
   * table), and no timer may run past Node's 24.8-day limit (a month counter is deleted instead).
   */
  readonly durable: boolean;
  get(name: string): Promise<number>;
  /** Adds (or, negative, refunds) points; a new counter lives `ttlSeconds` (0: until deleted). */
  add(name: string, points: number, ttlSeconds: number): Promise<number>;
  delete(name: string): Promise<void>;
  /** In-process counters also answer synchronously, so the hot path makes no promise. */
  readonly sync?: SyncCounters;
  /**
   * Durable counters only: changes whenever the store may have lost its counts since (Redis
   * reconnected: it may have restarted empty), so day and month are seeded from usage again.
   */
  readonly generation?: () => number;
}

export interface SyncCounters {
  get(name: string): number;
  add(name: string, points: number, ttlSeconds: number): number;
  delete(name: string): void;
}

const UNREACHABLE = Number.MAX_SAFE_INTEGER;

function consumed(res: RateLimiterRes | null): number {
  return res ? res.consumedPoints : 0;
}

const SWEEP_EVERY_MS = 60_000;

/**
 * Counters in this process's memory: a map of count and expiry, expired lazily on access and
 * swept once a minute. Synchronous, because the limit check runs on every API request and
 * RateLimiterMemory answers each call with a promise (measured: docs/DECISIONS.md).
 */
export function memoryCounters(_family: string): Counters {
  const entries = new Map<string, { value: number; expiresAt: number }>();
  let sweepAt = Date.now() + SWEEP_EVERY_MS;

  function live(name: string, now: number): { value: number; expiresAt: number } | undefined {
    const entry = entries.get(name);
    if (entry && entry.expiresAt !== 0 && entry.expiresAt <= now) {
      entries.delete(name);
      return undefined;
    }
    return entry;
  }

  const sync: SyncCounters = {
    get: (name) => live(name, Date.now())?.value ?? 0,
    add(name, points, ttlSeconds) {
      const now = Date.now();
      if (now >= sweepAt) {
        sweepAt = now + SWEEP_EVERY_MS;
        for (const [key, entry] of entries)
          if (entry.expiresAt !== 0 && entry.expiresAt <= now) entries.delete(key);
      }
      let entry = live(name, now);
      if (!entry) {
        entry = { value: 0, expiresAt: ttlSeconds > 0 ? now + ttlSeconds * 1000 : 0 };
        entries.set(name, entry);
      }
      entry.value += points;
      return entry.value;
    },
    delete(name) {
      entries.delete(name);
    },
  };
  return {
    shared: false,
    durable: false,
    sync,
    get: async (name) => sync.get(name),
    add: async (name, points, ttlSeconds) => sync.add(name, points, ttlSeconds),
    delete: async (name) => sync.delete(name),
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
    durable: true,
    generation: redis.connections,
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

/**
 * Checks every window and charges all of them in one Lua script: KEYS the windows' counters,
 * ARGV their limits (-1: unlimited), then their TTLs. Answers `[charged (1/0), used…]`. Atomic,
 * so a request never reads counts inflated by others' charges that would be refunded.
 */
const CHECK_AND_CHARGE = `local n = #KEYS
local used = {}
local full = false
for i = 1, n do
  used[i] = tonumber(redis.call('get', KEYS[i]) or '0')
  local limit = tonumber(ARGV[i])
  if limit >= 0 and used[i] >= limit then full = true end
end
if not full then
  for i = 1, n do
    redis.call('set', KEYS[i], 0, 'EX', ARGV[n + i], 'NX')
    used[i] = redis.call('incrby', KEYS[i], 1)
  end
end
table.insert(used, 1, full and 0 or 1)
return used`;

/**
 * Gives back one unit in each window a check-and-charge charged, where the counter still exists
 * (one that expired since is not made again, without a TTL, at -1).
 */
const REFUND = `for i = 1, #KEYS do
  if redis.call('exists', KEYS[i]) == 1 then redis.call('decrby', KEYS[i], 1) end
end
return 0`;

/** The scripts' names as ioredis commands of the client. */
const CHECK_AND_CHARGE_COMMAND = 'gatehouseCheckAndCharge';
const REFUND_COMMAND = 'gatehouseRefund';

type ScriptCommand = (...args: string[]) => Promise<number[]>;

export type CheckAndCharge = (
  names: string[],
  limits: Array<number | null>,
  ttlSeconds: number[],
) => Promise<{ charged: boolean; used: number[] }>;

/**
 * Redis's check-and-charge over the counters of `families` (one per window, in order), named as
 * redisCounters names them. With separate commands, a burst's requests that charge and then
 * refund make every window look fuller to the others meanwhile, so a window with units left
 * could refuse a request and be named in its 429 (a day's Retry-After for a used-up minute).
 */
export function redisCheckAndCharge(redis: SharedRedis, families: string[]): CheckAndCharge {
  // Sent by its SHA1 (EVALSHA), the script itself only when Redis does not have it yet.
  redis.client.defineCommand(CHECK_AND_CHARGE_COMMAND, {
    numberOfKeys: families.length,
    lua: CHECK_AND_CHARGE,
  });
  redis.client.defineCommand(REFUND_COMMAND, { numberOfKeys: families.length, lua: REFUND });
  const command = (client: Redis, name: string) =>
    (client as unknown as Record<string, ScriptCommand>)[name] as ScriptCommand;
  return async (names, limits, ttlSeconds) => {
    const keys = names.map((name, i) => `${redis.prefix}${families[i]}:${name}`);
    const args = [...limits.map((l) => String(l ?? -1)), ...ttlSeconds.map(String)];
    let sent: Promise<number[]> | undefined;
    try {
      const [charged, ...used] = await redis.run((client) => {
        sent = command(client, CHECK_AND_CHARGE_COMMAND).call(client, ...keys, ...args);
        return sent;
      });
      return { charged: charged === 1, used };
    } catch (error) {
      // Given up on at its deadline (the failure policy applies: 503, or served uncounted), the
      // script may still reach Redis and charge: what it charged is given back, on the same
      // connection, when its answer comes, so the request counts in no window.
      sent?.then(
        ([charged]) => {
          if (charged !== 1 || redis.client.status !== 'ready') return;
          command(redis.client, REFUND_COMMAND)
            .call(redis.client, ...keys)
            .catch(() => {});
        },
        () => {},
      );
      throw error;
    }
  };
}
