import cluster from 'node:cluster';
import {
  RateLimiterCluster,
  RateLimiterClusterMaster,
  RateLimiterMemory,
  type RateLimiterRes,
} from 'rate-limiter-flexible';
import { withinDeadline } from '../infra/deadline.ts';
import { type CheckAndCharge, type Counters, memoryCounters } from './counters.ts';

const CHANNEL = 'rate_limiter_flexible';
/** Gatehouse's own IPC messages: check every window and charge all of them, in the primary. */
const CHECK_AND_CHARGE_CHANNEL = 'gatehouse_check_and_charge';
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
  if (!cluster.isPrimary) return;
  // The counters of each family, as rate-limiter-flexible's primary keeps them (one limiter per
  // keyPrefix, created when a worker's limiter of that family says hello).
  const master = new RateLimiterClusterMaster() as unknown as {
    _rateLimiters: Record<string, RateLimiterMemory>;
  };
  const limiterOf = (family: string) => {
    master._rateLimiters[family] ??= new RateLimiterMemory({
      keyPrefix: family,
      points: UNREACHABLE,
      duration: 0,
    });
    return master._rateLimiters[family];
  };
  // One check-and-charge at a time, so none reads another's charge between its check and its own.
  let queue = Promise.resolve();
  cluster.on('message', (worker, message: unknown) => {
    const m = message as CheckAndChargeRequest | null;
    if (m?.channel !== CHECK_AND_CHARGE_CHANNEL || !Array.isArray(m.families)) return;
    queue = queue
      .then(async () => {
        // The worker has given up on it (failure policy applied): charging it now would count a
        // request the policy refused, or counted already.
        if (Date.now() >= m.expiresAt) return;
        const limiters = m.families.map(limiterOf);
        const before = await Promise.all(
          limiters.map(async (l, i) => consumed(await l.get(m.names[i] as string))),
        );
        const full = anyUsedUp(before, m.limits);
        const used = full
          ? before
          : await Promise.all(
              limiters.map(
                async (l, i) =>
                  (await l.penalty(m.names[i] as string, 1, { customDuration: m.ttlSeconds[i] }))
                    .consumedPoints,
              ),
            );
        worker.send({ channel: CHECK_AND_CHARGE_CHANNEL, id: m.id, charged: !full, used });
      })
      .catch(() => {
        // Unanswered: the worker's deadline applies its failure policy.
      });
  });
}

interface CheckAndChargeRequest {
  channel: string;
  id: number;
  families: string[];
  names: string[];
  limits: Array<number | null>;
  ttlSeconds: number[];
  /** When the worker stops waiting for the answer (Date.now() of this machine). */
  expiresAt: number;
}

const consumed = (res: RateLimiterRes | null) => (res ? res.consumedPoints : 0);

/** Whether a window is used up: `used[i]` of `limits[i]` (null: unlimited). */
function anyUsedUp(used: number[], limits: Array<number | null>): boolean {
  return used.some((u, i) => {
    const limit = limits[i];
    return limit !== null && limit !== undefined && u >= limit;
  });
}

/** Applies the primary's deadline to a call, warning (at most every 10 s) when it is missed. */
function primaryDeadline(timeoutMs: number, warn: (message: string) => void) {
  let warned = 0;
  return <T>(call: Promise<T>) =>
    withinDeadline(call, timeoutMs, () => {
      if (Date.now() - warned > 10_000) {
        warned = Date.now();
        warn(`The primary process gave no answer within ${timeoutMs} ms: limits follow their failure policy`);
      }
      return new PrimaryUnavailableError(timeoutMs);
    });
}

/** Each worker's cluster counters: their family and, once the handshake is over, what counts them. */
const families = new WeakMap<Counters, { family: string; use: () => Promise<Counters> }>();

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
  const answer = primaryDeadline(timeoutMs, warn);
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
  const counters: Counters = {
    shared: true,
    durable: false,
    get: async (name) => (await use()).get(name),
    add: async (name, points, ttlSeconds) => (await use()).add(name, points, ttlSeconds),
    delete: async (name) => (await use()).delete(name),
  };
  families.set(counters, { family, use });
  return counters;
}

/**
 * A worker's check-and-charge over `windows` (clusterCounters, one per window, in order): one
 * message to the primary, which checks every window and charges all of them before it handles
 * any other. With separate steps, a burst's charges about to be refunded made every window look
 * fuller to the others meanwhile, so a window with units left could refuse a request and be
 * named in its 429 (a day's Retry-After for a used-up minute). If the primary does not share its
 * counters, the worker's own (synchronous) counters check and charge at once.
 */
export function clusterCheckAndCharge(
  windows: Counters[],
  timeoutMs: number,
  warn: (message: string) => void,
): CheckAndCharge {
  const known = windows.map((counters) => {
    const found = families.get(counters);
    if (!found) throw new Error('clusterCheckAndCharge needs counters made by clusterCounters');
    return found;
  });
  const answer = primaryDeadline(timeoutMs, warn);
  const pending = new Map<number, (reply: { charged: boolean; used: number[] }) => void>();
  let nextId = 0;
  process.on('message', (message: unknown) => {
    const m = message as { channel?: string; id?: number; charged?: boolean; used?: number[] } | null;
    if (m?.channel !== CHECK_AND_CHARGE_CHANNEL || typeof m.id !== 'number') return;
    pending.get(m.id)?.({ charged: m.charged === true, used: m.used ?? [] });
    pending.delete(m.id);
  });
  return async (names, limits, ttlSeconds) => {
    const delegates = await Promise.all(known.map((k) => k.use()));
    const local = delegates.flatMap((d) => (d.sync ? [d.sync] : []));
    if (local.length === delegates.length) {
      const before = local.map((c, i) => c.get(names[i] as string));
      if (anyUsedUp(before, limits)) return { charged: false, used: before };
      return {
        charged: true,
        used: local.map((c, i) => c.add(names[i] as string, 1, ttlSeconds[i] as number)),
      };
    }
    const id = nextId++;
    const reply = new Promise<{ charged: boolean; used: number[] }>((resolve) => pending.set(id, resolve));
    const request: CheckAndChargeRequest = {
      channel: CHECK_AND_CHARGE_CHANNEL,
      id,
      families: known.map((k) => k.family),
      names,
      limits,
      ttlSeconds,
      expiresAt: Date.now() + timeoutMs,
    };
    process.send?.(request);
    try {
      return await answer(reply);
    } finally {
      pending.delete(id);
    }
  };
}
