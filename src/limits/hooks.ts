import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from '../errors.ts';
import { limitError, rateLimitHeaders } from './headers.ts';
import { isUnavailable, type LimitDecision, type RateLimiter } from './rate-limiter.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** How the rate limiter judged this request; unset before authentication succeeded. */
    rateLimit: LimitDecision | undefined;
  }
}

export type FailurePolicy = 'open' | 'closed';

export interface LimitHookOptions {
  limiter: RateLimiter;
  /** Redis unreachable: `open` serves requests uncounted (logged), `closed` answers 503. */
  onFailure: FailurePolicy;
}

/** onRequest, right after API-key authentication: charges the key or answers 429. */
export function enforceLimits({ limiter, onFailure }: LimitHookOptions) {
  return async function limits(request: FastifyRequest): Promise<void> {
    const key: FastifyRequest['apiKey'] | undefined = request.apiKey;
    // A public App API route called without credentials has no key to charge (src/apps/runtime.ts).
    if (!key) return;
    const now = Date.now();
    let decision: LimitDecision;
    try {
      decision = await limiter.check(key.id, key.limits, now);
    } catch (error) {
      if (!isUnavailable(error)) throw error;
      if (onFailure === 'closed') {
        throw new ApiError('limits_unavailable', { headers: { 'retry-after': '1' } });
      }
      request.rateLimit = { outcome: 'unavailable' };
      return;
    }
    request.rateLimit = decision;
    if (decision.outcome === 'rejected') throw limitError(decision.window, now);
  };
}

/** onSend: every authenticated response, errors included, carries the limit headers. */
export function sendLimitHeaders(request: FastifyRequest, reply: FastifyReply): void {
  const decision = request.rateLimit;
  if (!decision) return;
  const headers = rateLimitHeaders(decision, Date.now());
  if (headers) reply.headers(headers);
}
