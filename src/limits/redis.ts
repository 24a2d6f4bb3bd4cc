import { Redis } from 'ioredis';
import { withinDeadline } from '../infra/deadline.ts';

/** A Redis call failed or was skipped because Redis is failing; callers apply their failure policy. */
export class RedisUnavailableError extends Error {
  constructor(cause?: unknown) {
    super(`Redis unavailable${cause instanceof Error ? `: ${cause.message}` : ''}`, { cause });
    this.name = 'RedisUnavailableError';
  }
}

export interface SharedRedisOptions {
  url: string;
  /** Prepended to every key, so installations (and test runs) sharing one Redis never meet. */
  prefix: string;
  /** The longest any one command may take before it counts as failed. */
  timeoutMs: number;
  warn(message: string, error?: unknown): void;
}

export interface SharedRedis {
  client: Redis;
  prefix: string;
  /**
   * Runs Redis calls. After a failure, calls fail at once for a second instead of each waiting
   * for its timeout, so a hung Redis slows a handful of requests, not every request.
   */
  run<T>(call: (client: Redis) => Promise<T>): Promise<T>;
  /**
   * How many times the client has become ready: it changes on every reconnection, after which
   * Redis may be one that restarted empty (no persistence) and lost every counter.
   */
  connections(): number;
  close(): Promise<void>;
}

const BREAK_MS = 1_000;
const WARN_EVERY_MS = 10_000;

export function connectRedis(options: SharedRedisOptions): SharedRedis {
  const client = new Redis(options.url, {
    // Never queue commands while disconnected and never retry a command: a request must not
    // wait for Redis to come back. Reconnection itself continues in the background.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    // No commandTimeout: `run` keeps its own deadline, one that a busy event loop cannot trip.
    connectTimeout: Math.max(options.timeoutMs, 1_000),
    retryStrategy: (times) => Math.min(times * 200, 2_000),
    // Commands issued in the same tick (a request's windows, concurrent requests) share one write.
    enableAutoPipelining: true,
  });
  let openUntil = 0;
  let lastWarning = 0;
  let connections = 0;
  client.on('ready', () => {
    connections += 1;
  });

  function warn(error: unknown): void {
    const now = Date.now();
    if (now - lastWarning < WARN_EVERY_MS) return;
    lastWarning = now;
    options.warn('Redis unavailable: limits and idempotency locks follow their failure policy', error);
  }

  function failed(error: unknown): never {
    openUntil = Date.now() + BREAK_MS;
    warn(error);
    throw error instanceof RedisUnavailableError ? error : new RedisUnavailableError(error);
  }

  // ioredis reports connection trouble as events; without a listener it prints to the console.
  // Throttled on its own: reconnect errors come every 2 s and must not silence the warning above,
  // the one that says requests go on without Redis (and that alerts look for).
  let lastConnectionWarning = 0;
  client.on('error', (error: unknown) => {
    const now = Date.now();
    if (now - lastConnectionWarning >= WARN_EVERY_MS) {
      lastConnectionWarning = now;
      options.warn(
        'Redis connection error: check REDIS_URL, and that Redis is running and reachable from here',
        error,
      );
    }
  });

  return {
    client,
    prefix: options.prefix,
    async run(call) {
      if (Date.now() < openUntil || client.status !== 'ready') {
        // Skipped, not failed: the break is not extended, so the next call after it tries again.
        const skipped = new RedisUnavailableError();
        warn(skipped);
        throw skipped;
      }
      try {
        return await withinDeadline(
          call(client),
          options.timeoutMs,
          () => new RedisUnavailableError(new Error(`Command timed out after ${options.timeoutMs} ms`)),
        );
      } catch (error) {
        return failed(error);
      }
    },
    connections: () => connections,
    async close() {
      client.disconnect();
    },
  };
}
