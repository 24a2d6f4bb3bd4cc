import type { SharedRedis } from '../limits/redis.ts';

export type LockResult = 'acquired' | 'held' | 'unavailable';

/**
 * Marks an idempotency key as in flight while its first request runs, so that a concurrent
 * duplicate is answered 409 at once. The lock is an optimisation of the answer, not the
 * guarantee: the unique key in the database is what makes a second write impossible.
 */
export interface InFlightLocks {
  /** Synchronous when the locks are this process's own (memoryLocks). */
  acquire(name: string, token: string, ttlMs: number): LockResult | Promise<LockResult>;
  release(name: string, token: string): Promise<void>;
}

export function memoryLocks(): InFlightLocks {
  const held = new Map<string, { token: string; expires: number }>();
  return {
    acquire(name, token, ttlMs) {
      const now = Date.now();
      if (held.size > 10_000) {
        // Locks of requests that never reached their release (aborted) are swept when they pile up.
        for (const [other, lock] of held) if (lock.expires <= now) held.delete(other);
      }
      const current = held.get(name);
      if (current && current.expires > now) return 'held';
      held.set(name, { token, expires: now + ttlMs });
      return 'acquired';
    },
    async release(name, token) {
      if (held.get(name)?.token === token) held.delete(name);
    },
  };
}

const RELEASE =
  "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0";

/** Locks shared by every process on one Redis. When Redis fails, requests go on without a lock. */
export function redisLocks(redis: SharedRedis): InFlightLocks {
  const key = (name: string) => `${redis.prefix}idem:${name}`;
  return {
    async acquire(name, token, ttlMs) {
      try {
        const ok = await redis.run((client) => client.set(key(name), token, 'PX', ttlMs, 'NX'));
        return ok === 'OK' ? 'acquired' : 'held';
      } catch {
        return 'unavailable';
      }
    },
    async release(name, token) {
      await redis
        .run((client) => client.eval(RELEASE, 1, key(name), token))
        .catch(() => {
          // The lock expires on its own.
        });
    },
  };
}
