import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from '../errors.ts';
import { TwoCredentials } from '../http/auth.ts';
import { TtlCache } from '../infra/cache/ttl-cache.ts';
import { clientScope } from './client-scope.ts';
import type { Counters } from './counters.ts';

export interface BruteForceOptions {
  /**
   * Failures per client (clientScope: an IPv6 client per /64), counted in Redis when configured
   * so all processes add up.
   */
  counters: Counters;
  /** Invalid keys an address may present within `windowSeconds`; the next request is a 429. */
  limit: number;
  windowSeconds: number;
}

/** Failures beyond this share of the limit are answered more and more slowly. */
const SLOW_FROM = 0.5;
const DELAY_STEP_MS = 200;
const MAX_DELAY_MS = 2_000;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Guessing keys from one address (an IPv6 client: one /64, see clientScope): the first failures
 * are answered at once, later ones slowed, and past the limit the address gets 429 for the rest
 * of the window before its key is looked at (a key already cached as good still passes:
 * http/auth.ts bruteForceHook). The block is kept in each process's memory, so a blocked address
 * costs no Redis call and no database read; other processes learn of it at that address's next
 * failure there.
 */
export function createBruteForceGuard({ counters, limit, windowSeconds }: BruteForceOptions) {
  const blockedUntil = new TtlCache<string, number>(windowSeconds * 1000, 100_000);
  const slowFrom = Math.floor(limit * SLOW_FROM);

  function blocked(client: string, now: number): ApiError {
    const until = blockedUntil.get(client, now) ?? now;
    return new ApiError('too_many_failed_attempts', {
      headers: { 'retry-after': String(Math.max(1, Math.ceil((until - now) / 1000))) },
    });
  }

  return {
    /**
     * Before authentication; synchronous (see syncFirstHook). `knownKey`: whether the request
     * presents a key known good without a lookup, which a blocked address may still use.
     */
    guard<R extends { ip: string }>(request: R, knownKey?: (request: R) => boolean): void {
      // Nobody blocked (the usual case): no address to work out on every request.
      if (blockedUntil.size === 0) return;
      const now = Date.now();
      const client = clientScope(request.ip);
      const until = blockedUntil.get(client, now);
      if (until !== undefined && until > now && !knownKey?.(request)) throw blocked(client, now);
    },

    /** onError: counts a presented key that does not exist (or fails its checksum) and slows the answer. */
    async failed(request: FastifyRequest, _reply: FastifyReply, error: Error): Promise<void> {
      if (!(error instanceof ApiError) || error.code !== 'invalid_api_key') return;
      // A key that was accepted and then refused for how it was sent (the key itself on a
      // token-only App API route) is no guess: it must not slow or block its own address.
      const accepted: FastifyRequest['apiKey'] | undefined = request.apiKey;
      if (accepted) return;
      // Two credentials (a header sent twice, blank or not) are refused before any key is looked
      // up: nothing was guessed.
      if (error instanceof TwoCredentials) return;
      const client = clientScope(request.ip);
      let failures: number;
      try {
        failures = await counters.add(client, 1, windowSeconds);
      } catch {
        return; // Counting failed (Redis down): the key check itself still refused the request.
      }
      if (failures >= limit) blockedUntil.set(client, Date.now() + windowSeconds * 1000);
      if (failures > slowFrom) await sleep(Math.min(MAX_DELAY_MS, (failures - slowFrom) * DELAY_STEP_MS));
    },
  };
}

export type BruteForceGuard = ReturnType<typeof createBruteForceGuard>;
