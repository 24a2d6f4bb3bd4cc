import type { FastifyRequest } from 'fastify';
import type { Principal } from '../accounts/owner-service.ts';
import { ApiError } from '../errors.ts';
import type { AuthenticatedKey, KeyService } from '../keys/key-service.ts';
import type { BruteForceGuard } from '../limits/brute-force.ts';
import { sentTwice, type WithHeaders } from './single-header.ts';
import { syncFirstHook } from './sync-hook.ts';

declare module 'fastify' {
  interface FastifyRequest {
    apiKey: AuthenticatedKey;
    principal: Principal;
  }
}

/**
 * The Cache-Control of every answer to the data and App APIs: what a key reads is its own, and a
 * key sent as X-API-Key is no credential to a shared cache, which could otherwise store the answer
 * and give it to the next caller of the URL, keyless.
 */
export const NO_STORE = 'no-store';

/**
 * The refusal of a request that carries two credentials: both headers filled in, or either sent
 * twice (Node keeps the first Authorization and joins X-API-Keys into "k1, k2"), blank or not.
 * No key was looked up, so it is no guessed key: the brute-force guard does not count it, and a
 * client that sends its header twice cannot block its own address.
 */
export class TwoCredentials extends ApiError {
  constructor() {
    super('invalid_api_key', {
      message: 'Send one credential: "Authorization: Bearer <key>" or "X-API-Key: <key>", once',
    });
  }
}

/**
 * The presented secret: `Authorization: Bearer <secret>` or `X-API-Key: <secret>`, sent once.
 * A header sent empty (or blank), or `Authorization: Bearer` with nothing after the scheme, is no
 * credential, as if it were not sent: a client that fills it from an unset variable
 * (`Bearer $KEY`) calls a public App route as anyone else does, and is told `missing_api_key`
 * elsewhere, never counted as a wrong key. Two credentials are refused
 * (TwoCredentials): a proxy that read the other one would have authorized someone else.
 */
export function presentedSecret(request: WithHeaders): string | undefined {
  const authorization = bearerFilled(request.headers.authorization);
  const apiKey = filled(request.headers['x-api-key']);
  if (
    (authorization !== undefined && apiKey !== undefined) ||
    sentTwice(request, 'authorization') ||
    sentTwice(request, 'x-api-key')
  ) {
    throw new TwoCredentials();
  }
  if (authorization === undefined) return apiKey;
  const match = /^Bearer[ ]+(\S+)$/i.exec(authorization);
  if (!match?.[1]) throw new ApiError('invalid_api_key', { message: 'Use "Authorization: Bearer <key>"' });
  return match[1];
}

/** A header's value without the white space around it; undefined when that leaves nothing. */
export function filled(value: string | string[] | undefined): string | undefined {
  const text = typeof value === 'string' ? value.trim() : '';
  return text === '' ? undefined : text;
}

/** The Authorization header as filled(), and undefined too when it holds only the scheme: `Bearer `. */
function bearerFilled(value: string | string[] | undefined): string | undefined {
  const text = filled(value);
  return text === undefined || /^Bearer$/i.test(text) ? undefined : text;
}

/** A short-lived token (a JWT: three dot-separated parts) rather than an API key. */
function isJwt(secret: string): boolean {
  return secret.split('.').length === 3;
}

/**
 * The brute-force guard for a scope: an address blocked for guessing keys gets 429 before any
 * lookup, except for a key in good standing that is already in the cache, or a short-lived token
 * this process minted or accepted, so that one client's guesses cannot lock out a partner's
 * working key or tokens behind the same address (a shared NAT, say).
 */
export function bruteForceHook(
  guard: BruteForceGuard,
  keys: KeyService,
  tokens?: { knows(token: string): boolean },
) {
  const knownKey = (request: FastifyRequest): boolean => {
    try {
      const secret = presentedSecret(request);
      if (secret === undefined) return false;
      if (tokens && isJwt(secret)) return tokens.knows(secret);
      return keys.knows(secret, Date.now(), request.raw.socket);
    } catch {
      return false;
    }
  };
  return syncFirstHook((request) => guard.guard(request, knownKey));
}

export function apiKeyAuth(keys: KeyService, tokens?: { verify(token: string): Promise<AuthenticatedKey> }) {
  return syncFirstHook((request) => {
    const secret = presentedSecret(request);
    if (!secret) throw new ApiError('missing_api_key');
    request.viaToken = false;
    // A short-lived JWT instead of the key itself.
    if (tokens && isJwt(secret)) {
      return tokens.verify(secret).then((verified) => {
        request.apiKey = verified;
        request.viaToken = true;
      });
    }
    const key = keys.verify(secret, undefined, request.raw.socket);
    if (key instanceof Promise) {
      return key.then((verified) => {
        request.apiKey = verified;
      });
    }
    request.apiKey = key;
  });
}
