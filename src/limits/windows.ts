/**
 * The three limit windows. Every window is a calendar period in UTC (a clock minute, a UTC day,
 * a calendar month), so every process computes the same window id and the same reset time
 * without talking to the others, and a month quota resets on the 1st at 00:00 UTC.
 */

export type WindowName = 'minute' | 'day' | 'month';
export type LimitField = 'per_minute' | 'per_day' | 'per_month';

export const WINDOWS: readonly WindowName[] = ['minute', 'day', 'month'];

export const limitField: Record<WindowName, LimitField> = {
  minute: 'per_minute',
  day: 'per_day',
  month: 'per_month',
};

/** Each window with a longer one after it: a shorter window's limit may not be above a longer one's. */
const WINDOW_PAIRS = [
  ['per_minute', 'per_day'],
  ['per_day', 'per_month'],
  ['per_minute', 'per_month'],
] as const;

/**
 * The windows of `limits` whose limit is above a longer window's (`per_minute` 5000 with
 * `per_day` 1000), which could never be reached: the longer window refuses first. A key's limits
 * (keys/key-input.ts) and the installation's defaults (config.ts) are both refused so.
 */
export function* unreachableLimits(
  limits: Partial<Record<LimitField, number | null | undefined>>,
): Generator<{ shorter: LimitField; longer: LimitField; low: number; high: number }> {
  for (const [shorter, longer] of WINDOW_PAIRS) {
    const low = limits[shorter];
    const high = limits[longer];
    if (typeof low === 'number' && typeof high === 'number' && low > high)
      yield { shorter, longer, low, high };
  }
}

export interface Period {
  window: WindowName;
  /** Names this period: `29123456` (epoch minute), `2026-11-22`, `2026-11`. */
  id: string;
  /** When the period started and when it ends (epoch ms); `end` is the next period's start. */
  start: number;
  end: number;
}

function pad(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

export function period(window: WindowName, now: number): Period {
  if (window === 'minute') {
    const minute = Math.floor(now / 60_000);
    return { window, id: String(minute), start: minute * 60_000, end: (minute + 1) * 60_000 };
  }
  const date = new Date(now);
  const year = date.getUTCFullYear();
  const month = date.getUTCMonth();
  if (window === 'day') {
    const start = Date.UTC(year, month, date.getUTCDate());
    return {
      window,
      id: `${year}-${pad(month + 1)}-${pad(date.getUTCDate())}`,
      start,
      end: start + 86_400_000,
    };
  }
  return {
    window,
    id: `${year}-${pad(month + 1)}`,
    start: Date.UTC(year, month, 1),
    end: Date.UTC(year, month + 1, 1),
  };
}

/** The period just before `p` (used to drop counters that can no longer be asked for). */
export function previousPeriod(p: Period): Period {
  return period(p.window, p.start - 1);
}

/** Length of the period in seconds: 60, 86400, or the days of this month × 86400. */
export function periodSeconds(p: Period): number {
  return Math.round((p.end - p.start) / 1000);
}

let lastDay: Period | undefined;

/** The UTC day (YYYY-MM-DD) of an instant; the last day computed is kept (asked on every request). */
export function utcDay(now: number): string {
  if (!lastDay || now < lastDay.start || now >= lastDay.end) lastDay = period('day', now);
  return lastDay.id;
}
