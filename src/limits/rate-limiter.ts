import type { KeyLimits } from '../keys/key-input.ts';
import { PrimaryUnavailableError } from './cluster-counters.ts';
import type { CheckAndCharge, Counters, SyncCounters } from './counters.ts';
import { RedisUnavailableError } from './redis.ts';
import {
  limitField,
  type Period,
  period,
  periodSeconds,
  previousPeriod,
  WINDOWS,
  type WindowName,
} from './windows.ts';

/** One window as this request left it. `limit` is null when the window is counted but not limited. */
export interface WindowState {
  window: WindowName;
  limit: number | null;
  used: number;
  /** Epoch ms when the window resets. */
  resetAt: number;
  /** Seconds in this window, for the `w` of RateLimit-Policy. */
  seconds: number;
}

export type LimitDecision =
  | { outcome: 'allowed'; windows: WindowState[] }
  /** `window` is the one that refused; no window was charged for this request. */
  | { outcome: 'rejected'; window: WindowState; windows: WindowState[] }
  /** The counter store failed and the policy is to let requests through uncounted. */
  | { outcome: 'unavailable' };

export type EffectiveLimits = Record<WindowName, number | null>;

export interface RateLimiterOptions {
  counters: Record<WindowName, Counters>;
  /** Installation-wide limits for keys that set none for a window. */
  defaults: KeyLimits;
  /**
   * Process-local counters start empty after a restart, and Redis without persistence after
   * its own; this reads what the usage table says a key already used in a day or month, so a
   * quota survives either.
   */
  usedBefore?: (keyId: string, window: 'day' | 'month', p: Period) => Promise<number>;
  /** Redis: checks and charges every window at once (counters.ts), instead of steps 1–3 of `decide`. */
  checkAndCharge?: CheckAndCharge;
}

const TTL_SLACK_SECONDS = 60;
/** How long a worker waits for another to seed a key's day or month counter in a cluster. */
const SEED_WAIT_MS = 3_000;
/**
 * How long a claim to seed a key's counter holds: far longer than a seeding takes (one usage
 * query), short enough that one that died midway holds the key's requests up only this long.
 */
const SEED_CLAIM_SECONDS = 30;

/** Which periods a key's counters were seeded for; `ready` while the seeding runs. */
interface SeededEntry {
  day: string;
  month: string;
  generation: number;
  ready: Promise<void> | undefined;
}

/** How long a period's counter must live: to the end of the period, plus slack for clock skew. */
function ttlSeconds(p: Period, now: number, durable: boolean): number {
  // In memory (this process's or a cluster primary's) a month counter never expires on a timer
  // (Node timers overflow past 24.8 days); the previous period's counter is deleted when a new
  // one is seeded instead.
  if (!durable && p.window === 'month') return 0;
  return Math.ceil((p.end - now) / 1000) + TTL_SLACK_SECONDS;
}

export function effectiveLimits(limits: KeyLimits, defaults: KeyLimits): EffectiveLimits {
  const out = { minute: null, day: null, month: null } as EffectiveLimits;
  for (const window of WINDOWS) {
    const field = limitField[window];
    out[window] = limits[field] ?? defaults[field] ?? null;
  }
  return out;
}

/**
 * Per-key limits over three calendar windows. Every window is checked before any is charged, so
 * a request refused by one window costs nothing in the others; when two processes race past the
 * check, a request that finds itself over a limit after charging refunds every window again.
 * Counts never exceed a limit: each charge is one atomic increment.
 */
export function createRateLimiter(options: RateLimiterOptions) {
  const { counters, defaults } = options;
  const shared = counters.minute.shared;
  const durable = counters.minute.durable;
  /**
   * Which day and month each key's counters were seeded for, and in which generation of durable
   * counters (Redis: a reconnection may find it restarted empty, so each key is seeded again).
   */
  const seeded = new Map<string, SeededEntry>();
  const generationOf = counters.day.generation;

  /**
   * Waits until another process has seeded a counter (its `done` marker is set), a few ms at a
   * time: true once it is; false after SEED_WAIT_MS (that process is slow, or died midway).
   */
  async function seededElsewhere(counter: (typeof counters)['day'], done: string): Promise<boolean> {
    const until = Date.now() + SEED_WAIT_MS;
    for (;;) {
      if ((await counter.get(done)) >= 1) return true;
      if (Date.now() >= until) return false;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  function ensureSeeded(keyId: string, periods: Period[]): Promise<void> | undefined {
    const { usedBefore } = options;
    if (!usedBefore) return undefined;
    const day = periods[1] as Period;
    const month = periods[2] as Period;
    const generation = generationOf ? generationOf() : 0;
    const known = seeded.get(keyId);
    // Once seeded, `ready` is dropped: the common case awaits nothing.
    if (known && known.day === day.id && known.month === month.id && known.generation === generation) {
      return known.ready;
    }
    /** Seeds one window's counter; false when another process holds the claim and has not finished. */
    const seedOne = async (p: Period, window: 'day' | 'month'): Promise<boolean> => {
      if (known && known.generation === generation && (window === 'day' ? known.day : known.month) === p.id)
        return true;
      const counter = counters[window];
      const ttl = ttlSeconds(p, Date.now(), durable);
      const claim = `seeded:${keyId}:${p.id}`;
      const done = `seeded-done:${keyId}:${p.id}`;
      if (shared) {
        // Workers of one machine count in their primary, processes in Redis: the first to claim
        // this key's period seeds its counter, once (while the primary or Redis keeps the done
        // marker). The others wait until it is done: judged against a counter not yet seeded,
        // their requests would pass a quota a restart left already used up. The claim lapses
        // after SEED_CLAIM_SECONDS, and is dropped when seeding fails, so a process that died
        // midway holds nobody up for longer.
        if (!durable) {
          await counter.delete(`seeded:${keyId}:${previousPeriod(p).id}`);
          await counter.delete(`seeded-done:${keyId}:${previousPeriod(p).id}`);
        }
        if ((await counter.get(done)) >= 1) return true;
        if ((await counter.add(claim, 1, SEED_CLAIM_SECONDS)) !== 1) return seededElsewhere(counter, done);
      }
      try {
        if (!durable) await counter.delete(`${keyId}:${previousPeriod(p).id}`);
        const used = await usedBefore(keyId, window, p);
        // In one process every request charges only after this seeding, so the counter is still
        // untouched here; in a cluster, the other workers wait for it (seededElsewhere). Redis
        // counts that are still there (it did not lose them, or an older release kept them
        // without markers) already hold what usage says.
        if (used > 0 && ((shared && !durable) || (await counter.get(`${keyId}:${p.id}`)) === 0)) {
          await counter.add(`${keyId}:${p.id}`, used, ttl);
        }
        if (shared) await counter.add(done, 1, ttl);
        return true;
      } catch (error) {
        if (shared) await counter.delete(claim).catch(() => {});
        throw error;
      }
    };
    const ready = Promise.all([seedOne(day, 'day'), seedOne(month, 'month')]);
    const entry: SeededEntry = {
      day: day.id,
      month: month.id,
      generation,
      ready: ready.then(() => undefined),
    };
    seeded.set(keyId, entry);
    ready.then(
      (settled) => {
        if (settled.every(Boolean)) entry.ready = undefined;
        // Another process's seeding did not finish in time: this request goes on without it, and
        // the key's next one looks again (its claim lapses if that process is gone).
        else if (seeded.get(keyId) === entry) seeded.delete(keyId);
      },
      () => {
        if (seeded.get(keyId) === entry) seeded.delete(keyId);
      },
    );
    return entry.ready;
  }

  function states(periods: Period[], limits: EffectiveLimits, used: number[]): WindowState[] {
    return periods.map((p, i) => ({
      window: p.window,
      limit: limits[p.window],
      used: used[i] ?? 0,
      resetAt: p.end,
      seconds: periodSeconds(p),
    }));
  }

  /** The refusing window the client must wait longest for. */
  function refusal(windows: WindowState[], isOver: (w: WindowState) => boolean): WindowState | undefined {
    let found: WindowState | undefined;
    for (const w of windows) if (isOver(w) && (!found || w.resetAt > found.resetAt)) found = w;
    return found;
  }

  /**
   * The window that refused a request which found itself over a limit after charging. The counts
   * it read include other requests still in flight (each charged every window and will refund
   * them all), the same number in each window, so a window merely near its limit can look over
   * it too. The window truly used up is the one furthest over; of those, the one that resets
   * last (all of them are used up).
   */
  function raceRefusal(charged: WindowState[], fallback: WindowState): WindowState {
    let found: WindowState | undefined;
    let furthest = 0;
    for (const w of charged) {
      if (w.limit === null || w.used <= w.limit) continue;
      const over = w.used - w.limit;
      if (!found || over > furthest || (over === furthest && w.resetAt > found.resetAt)) {
        found = w;
        furthest = over;
      }
    }
    return found ?? fallback;
  }

  // Day and month boundaries are minute boundaries too: the three periods change together.
  let current: Period[] = [];
  function periodsAt(now: number): Period[] {
    const minute = current[0];
    if (!minute || now < minute.start || now >= minute.end) current = WINDOWS.map((w) => period(w, now));
    return current;
  }

  async function decide(keyId: string, limits: EffectiveLimits, now: number): Promise<LimitDecision> {
    const periods = periodsAt(now);
    const names = periods.map((p) => `${keyId}:${p.id}`);
    const seeding = ensureSeeded(keyId, periods);
    if (seeding) await seeding;

    if (options.checkAndCharge) {
      const { charged, used } = await options.checkAndCharge(
        names,
        periods.map((p) => limits[p.window]),
        periods.map((p) => ttlSeconds(p, now, durable)),
      );
      const windows = states(periods, limits, used);
      const full = charged ? undefined : refusal(windows, (w) => w.limit !== null && w.used >= w.limit);
      return full ? { outcome: 'rejected', window: full, windows } : { outcome: 'allowed', windows };
    }

    // 1. Check every limited window without charging any.
    if (limits.minute !== null || limits.day !== null || limits.month !== null) {
      const before = await Promise.all(
        periods.map((p, i) =>
          limits[p.window] === null ? Promise.resolve(0) : counters[p.window].get(names[i] as string),
        ),
      );
      const checked = states(periods, limits, before);
      const full = refusal(checked, (w) => w.limit !== null && w.used >= w.limit);
      if (full) return { outcome: 'rejected', window: full, windows: checked };
    }

    // 2. Charge every window (unlimited ones too: they feed the account's usage figures).
    const after = await Promise.all(
      periods.map((p, i) => counters[p.window].add(names[i] as string, 1, ttlSeconds(p, now, durable))),
    );
    const charged = states(periods, limits, after);
    const over = refusal(charged, (w) => w.limit !== null && w.used > w.limit);
    if (!over) return { outcome: 'allowed', windows: charged };

    // 3. Another request took the last unit between check and charge: give everything back.
    await Promise.all(
      periods.map((p, i) => counters[p.window].add(names[i] as string, -1, ttlSeconds(p, now, durable))),
    );
    const refunded = charged.map((w) => ({ ...w, used: w.used - 1 }));
    const window = refunded.find((w) => w.window === raceRefusal(charged, over).window) ?? over;
    return {
      outcome: 'rejected',
      window: { ...window, used: window.limit ?? window.used },
      windows: refunded,
    };
  }

  /** Each key's counter names for the current periods, built (and hashed) once a minute, not per request. */
  const counterNames = new Map<string, { periods: Period[]; names: string[] }>();
  function namesOf(keyId: string, periods: Period[]): string[] {
    let known = counterNames.get(keyId);
    if (!known || known.periods !== periods) {
      if (!known && counterNames.size >= 100_000) counterNames.clear();
      known = { periods, names: periods.map((p) => `${keyId}:${p.id}`) };
      counterNames.set(keyId, known);
    }
    return known.names;
  }

  /**
   * `decide` over in-process counters, without a promise: the same three steps, each answered at
   * once (nothing can interleave between check and charge, so the refund never happens here).
   */
  function decideSync(
    sync: Record<WindowName, SyncCounters>,
    keyId: string,
    limits: EffectiveLimits,
    periods: Period[],
    now: number,
  ): LimitDecision {
    const names = namesOf(keyId, periods);
    if (limits.minute !== null || limits.day !== null || limits.month !== null) {
      const before = periods.map((p, i) =>
        limits[p.window] === null ? 0 : sync[p.window].get(names[i] as string),
      );
      const checked = states(periods, limits, before);
      const full = refusal(checked, (w) => w.limit !== null && w.used >= w.limit);
      if (full) return { outcome: 'rejected', window: full, windows: checked };
    }
    const after = periods.map((p, i) =>
      sync[p.window].add(names[i] as string, 1, ttlSeconds(p, now, durable)),
    );
    return { outcome: 'allowed', windows: states(periods, limits, after) };
  }

  /** A cached key's limits object is the same on every request: merged with the defaults once. */
  const effective = new WeakMap<KeyLimits, EffectiveLimits>();

  const syncCounters =
    counters.minute.sync && counters.day.sync && counters.month.sync
      ? { minute: counters.minute.sync, day: counters.day.sync, month: counters.month.sync }
      : undefined;

  return {
    shared,
    /**
     * Synchronous with in-process counters once the key's day and month are seeded (the usual
     * case); a promise otherwise. Rejects with RedisUnavailableError when the shared counters
     * cannot be reached.
     */
    check(keyId: string, keyLimits: KeyLimits, now = Date.now()): LimitDecision | Promise<LimitDecision> {
      let limits = effective.get(keyLimits);
      if (!limits) {
        limits = effectiveLimits(keyLimits, defaults);
        effective.set(keyLimits, limits);
      }
      if (syncCounters) {
        const periods = periodsAt(now);
        if (!ensureSeeded(keyId, periods)) return decideSync(syncCounters, keyId, limits, periods, now);
      }
      return decide(keyId, limits, now);
    },
  };
}

export type RateLimiter = ReturnType<typeof createRateLimiter>;

export function isUnavailable(error: unknown): boolean {
  return error instanceof RedisUnavailableError || error instanceof PrimaryUnavailableError;
}
