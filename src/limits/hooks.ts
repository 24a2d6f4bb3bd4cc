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

/**
 * onRequest, right after API-key authentication: charges the key or answers 429. Synchronous
 * with in-process counters (wrap it in syncFirstHook); a promise when counting in Redis.
 */
/** What the limit check reads and sets: a Fastify request, or the data API's fast path (records/fast-path.ts). */
export interface LimitedRequest {
  apiKey: FastifyRequest['apiKey'] | undefined;
  rateLimit: LimitDecision | undefined;
}

export function enforceLimits({ limiter, onFailure }: LimitHookOptions) {
  function apply(request: LimitedRequest, decision: LimitDecision, now: number): void {
    request.rateLimit = decision;
    if (decision.outcome === 'rejected') throw limitError(decision.window, now);
  }

  function failed(request: LimitedRequest, error: unknown): void {
    if (!isUnavailable(error)) throw error;
    if (onFailure === 'closed') {
      throw new ApiError('limits_unavailable', { headers: { 'retry-after': '1' } });
    }
    request.rateLimit = { outcome: 'unavailable' };
  }

  return function limits(request: LimitedRequest): void | Promise<void> {
    const key = request.apiKey;
    // A public App API route called without credentials has no key to charge (src/apps/runtime.ts).
    if (!key) return;
    const now = Date.now();
    let decision: LimitDecision | Promise<LimitDecision>;
    try {
      decision = limiter.check(key.id, key.limits, now);
    } catch (error) {
      return failed(request, error);
    }
    if (decision instanceof Promise) {
      return decision.then(
        (settled) => apply(request, settled, now),
        (error: unknown) => failed(request, error),
      );
    }
    apply(request, decision, now);
  };
}

/** onSend: every authenticated response, errors included, carries the limit headers. */
export function sendLimitHeaders(request: FastifyRequest, reply: FastifyReply): void {
  const decision = request.rateLimit;
  if (!decision) return;
  const headers = rateLimitHeaders(decision, Date.now());
  if (headers) reply.headers(headers);
}
