import { ApiError } from '../errors.ts';
import type { LimitDecision, WindowState } from './rate-limiter.ts';
import { limitField } from './windows.ts';

function remaining(w: WindowState): number {
  return Math.max(0, (w.limit ?? 0) - w.used);
}

function secondsUntil(at: number, now: number): number {
  return Math.max(0, Math.ceil((at - now) / 1000));
}

const policies = new Map<string, string>();

/** The policy changes only with a key's limits (and the month's length): built once per combination. */
function policy(limited: WindowState[]): string {
  let id = '';
  for (const w of limited) id += `${w.window}${w.limit}/${w.seconds} `;
  let text = policies.get(id);
  if (text === undefined) {
    text = limited.map((w) => `"${w.window}";q=${w.limit};w=${w.seconds}`).join(', ');
    if (policies.size >= 10_000) policies.clear();
    policies.set(id, text);
  }
  return text;
}

/**
 * The window that will refuse first: fewest requests left, then the latest reset. Of windows with
 * as few left, the one that resets last says when more are left: when a minute and a month are both
 * used up, the month's reset is when a request can succeed again (as the 429 that follows says).
 */
export function tightest(windows: WindowState[]): WindowState | undefined {
  let best: WindowState | undefined;
  for (const w of windows) {
    if (w.limit === null) continue;
    if (
      !best ||
      remaining(w) < remaining(best) ||
      (remaining(w) === remaining(best) && w.resetAt > best.resetAt)
    )
      best = w;
  }
  return best;
}

/**
 * `X-RateLimit-*` for the tightest window (the de-facto headers the seeds document) and the IETF
 * draft fields naming every window: `RateLimit-Policy: "minute";q=120;w=60, "day";q=50000;w=86400`
 * and `RateLimit: "minute";r=119;t=42, "day";r=49000;t=3600`. A key without limits gets none.
 */
export function rateLimitHeaders(decision: LimitDecision, now: number): Record<string, string> | undefined {
  if (decision.outcome === 'unavailable') return undefined;
  const limited = decision.windows.filter((w) => w.limit !== null);
  const shown = decision.outcome === 'rejected' ? decision.window : tightest(limited);
  if (!shown || shown.limit === null) return undefined;
  return {
    'x-ratelimit-limit': String(shown.limit),
    'x-ratelimit-remaining': String(remaining(shown)),
    'x-ratelimit-reset': String(Math.ceil(shown.resetAt / 1000)),
    'ratelimit-policy': policy(limited),
    ratelimit: limited
      .map((w) => `"${w.window}";r=${remaining(w)};t=${secondsUntil(w.resetAt, now)}`)
      .join(', '),
  };
}

/** The 429: `rate_limited` for the minute and day windows, `quota_exceeded` for the month. */
export function limitError(window: WindowState, now: number): ApiError {
  const field = limitField[window.window];
  const resets = new Date(window.resetAt).toISOString();
  const monthly = window.window === 'month';
  // "1 request", not "1 requests": small limits are what a partner meets first, in a sandbox.
  const requests = `${window.limit} request${window.limit === 1 ? '' : 's'}`;
  return new ApiError(monthly ? 'quota_exceeded' : 'rate_limited', {
    message: monthly
      ? `Monthly quota of ${requests} exceeded`
      : `Rate limit of ${requests} per ${window.window} exceeded`,
    details: [{ field, error: `The limit of ${requests} per ${window.window} is used up until ${resets}` }],
    headers: { 'retry-after': String(Math.max(1, secondsUntil(window.resetAt, now))) },
  });
}
