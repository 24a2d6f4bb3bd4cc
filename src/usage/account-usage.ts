import type { FastifyRequest } from 'fastify';
import type { WindowName } from '../limits/windows.ts';

export interface WindowUsage {
  used: number;
  /** The effective limit (the key's own, or the installation default); null when unlimited. */
  limit: number | null;
  remaining: number | null;
  resets_at: string;
}

/**
 * The `usage` block of `GET /api/v1/account`: this minute, day and month, as the rate limiter
 * counted them for this very request (so it agrees with the X-RateLimit headers, across
 * processes when Redis is used). Null when the counters were unreachable.
 */
export function accountUsage(request: FastifyRequest): Record<WindowName, WindowUsage> | null {
  const decision = request.rateLimit;
  if (decision?.outcome !== 'allowed') return null;
  const out: Partial<Record<WindowName, WindowUsage>> = {};
  for (const w of decision.windows) {
    out[w.window] = {
      used: w.used,
      limit: w.limit,
      remaining: w.limit === null ? null : Math.max(0, w.limit - w.used),
      resets_at: new Date(w.resetAt).toISOString(),
    };
  }
  return out as Record<WindowName, WindowUsage>;
}
