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

/** How often the releases Redis missed are tried again: its pause after a failure (limits/redis.ts). */
const RETRY_RELEASE_MS = 1_000;
/** Releases kept to try again at most; past that, the rest are left to expire. */
const MAX_UNRELEASED = 10_000;

/** Locks shared by every process on one Redis. When Redis fails, requests go on without a lock. */
export function redisLocks(redis: SharedRedis): InFlightLocks {
  const key = (name: string) => `${redis.prefix}idem:${name}`;
  const releaseNow = (name: string, token: string) =>
    redis.run((client) => client.eval(RELEASE, 1, key(name), token));
  /**
   * Locks whose release Redis missed (it was away, or in its pause after a failure) while it may
   * still hold them: let go once it answers again, not left for LOCK_TTL_MS, in which a failed
   * request sent again with its key (as a client may, once it fixed it) would get 409.
   */
  const unreleased = new Map<string, string>();
  let retrying = false;

  async function retryReleases(): Promise<void> {
    while (unreleased.size > 0) {
      await new Promise((resolve) => setTimeout(resolve, RETRY_RELEASE_MS).unref());
      // Closed (the process is stopping): the locks left expire on their own.
      if (redis.client.status === 'end') {
        unreleased.clear();
        break;
      }
      await Promise.all(
        [...unreleased].map(([name, token]) =>
          releaseNow(name, token).then(
            () => {
              if (unreleased.get(name) === token) unreleased.delete(name);
            },
            () => {
              // Still away: next round.
            },
          ),
        ),
      );
    }
    retrying = false;
  }

  async function release(name: string, token: string): Promise<void> {
    await releaseNow(name, token).catch(() => {
      if (unreleased.size >= MAX_UNRELEASED) return; // these expire on their own
      unreleased.set(name, token);
      if (retrying) return;
      retrying = true;
      void retryReleases();
    });
  }

  return {
    async acquire(name, token, ttlMs) {
      let sent: Promise<'OK' | null> | undefined;
      try {
        const ok = await redis.run((client) => {
          sent = client.set(key(name), token, 'PX', ttlMs, 'NX');
          return sent;
        });
        return ok === 'OK' ? 'acquired' : 'held';
      } catch {
        // Given up on at its deadline, the SET may still reach Redis and take the lock, for a
        // request that went on without it and so never releases it: let it go once it lands.
        sent?.then(
          (ok) => (ok === 'OK' ? release(name, token) : undefined),
          () => {},
        );
        return 'unavailable';
      }
    },
    release,
  };
}
