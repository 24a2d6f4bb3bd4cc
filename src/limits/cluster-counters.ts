import cluster from 'node:cluster';
import { RateLimiterCluster, RateLimiterClusterMaster, type RateLimiterRes } from 'rate-limiter-flexible';
import { withinDeadline } from '../infra/deadline.ts';
import { type Counters, memoryCounters } from './counters.ts';

const CHANNEL = 'rate_limiter_flexible';
/**
 * How long a worker waits for the primary to confirm it keeps the counters. Generous: a loaded
 * machine starting N processes at once can take seconds, and a worker that gave up would count
 * alone (each worker then enforcing the whole limit by itself).
 */
const HANDSHAKE_MS = 15_000;
/** rate-limiter-flexible's own timer, a backstop only: the deadline is kept below, lag-tolerant. */
const BACKSTOP_MS = 60_000;
const UNREACHABLE = Number.MAX_SAFE_INTEGER;

/** The primary, which keeps a cluster's counters, did not answer in time: callers apply their failure policy. */
export class PrimaryUnavailableError extends Error {
  constructor(timeoutMs: number) {
    super(`The primary process gave no rate-limit answer within ${timeoutMs} ms`);
    this.name = 'PrimaryUnavailableError';
  }
}

/**
 * `gatehouse start --workers N` without Redis: the primary keeps every counter in its memory
 * (rate-limiter-flexible's cluster limiter, over the cluster IPC channel), so N workers enforce
 * one limit. Call this once in the primary, before forking.
 */
export function shareLimitsAcrossWorkers(): void {
  if (cluster.isPrimary) new RateLimiterClusterMaster();
}

/**
 * A worker's counters, kept by the primary. If the primary never answers the handshake (it does
 * not share limits), the worker falls back to counting in its own memory and says so once.
 */
export function clusterCounters(
  family: string,
  timeoutMs: number,
  warn: (message: string) => void,
): Counters {
  const limiter = new RateLimiterCluster({
    keyPrefix: family,
    points: UNREACHABLE,
    duration: 0,
    timeoutMs: BACKSTOP_MS,
  });
  // The primary too slow to answer is treated as Redis down is: the failure policy applies.
  let warned = 0;
  const answer = <T>(call: Promise<T>) =>
    withinDeadline(call, timeoutMs, () => {
      if (Date.now() - warned > 10_000) {
        warned = Date.now();
        warn(`The primary process gave no answer within ${timeoutMs} ms: limits follow their failure policy`);
      }
      return new PrimaryUnavailableError(timeoutMs);
    });
  let delegate: Counters | undefined;
  const ready = new Promise<Counters>((resolve) => {
    const onMessage = (message: unknown) => {
      const m = message as { channel?: string; type?: string; keyPrefix?: string } | null;
      if (m?.channel === CHANNEL && m.type === 'init' && m.keyPrefix === family) finish(shared);
    };
    const timer = setTimeout(() => {
      warn(`The primary process does not share rate-limit counters: each worker counts "${family}" alone`);
      finish(memoryCounters(family));
    }, HANDSHAKE_MS);
    timer.unref();
    function finish(counters: Counters) {
      clearTimeout(timer);
      process.off('message', onMessage);
      delegate = counters;
      resolve(counters);
    }
    process.on('message', onMessage);
  });
  const consumed = (res: RateLimiterRes | null) => (res ? res.consumedPoints : 0);
  const shared: Counters = {
    shared: true,
    durable: false,
    get: async (name) => consumed(await answer(limiter.get(name))),
    async add(name, points, ttlSeconds) {
      const options = { customDuration: ttlSeconds };
      const res = await answer(
        points >= 0 ? limiter.penalty(name, points, options) : limiter.reward(name, -points, options),
      );
      return res.consumedPoints;
    },
    async delete(name) {
      await answer(limiter.delete(name));
    },
  };
  const use = async () => delegate ?? (await ready);
  return {
    shared: true,
    durable: false,
    get: async (name) => (await use()).get(name),
    add: async (name, points, ttlSeconds) => (await use()).add(name, points, ttlSeconds),
    delete: async (name) => (await use()).delete(name),
  };
}
