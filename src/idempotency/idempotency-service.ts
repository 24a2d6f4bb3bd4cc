import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from '../errors.ts';
import { sha256 } from '../infra/crypto/hash.ts';
import type { Db } from '../infra/db/database.ts';
import type { DialectAdapter } from '../infra/db/dialect.ts';
import { preparedReadFirst } from '../infra/db/prepared.ts';
import type { WriteCommand } from '../records/record-writer.ts';
import { isoAfter, nowIso } from '../time.ts';
import { formerFingerprint, parseIdempotencyKey, requestFingerprint } from './idempotency-key.ts';
import type { InFlightLocks } from './in-flight-locks.ts';

interface InFlight {
  key: string;
  fingerprint: string;
  /** The lock to release once the response is decided; null when no lock could be taken. */
  lock: string | null;
}

declare module 'fastify' {
  interface FastifyRequest {
    idempotency: InFlight | undefined;
  }
}

interface Stored {
  fingerprint: string;
  status_code: number;
  response_body: string;
  request_id: string;
  expires_at: string;
}

export interface IdempotencyOptions {
  db: Db;
  dialect: DialectAdapter;
  locks: InFlightLocks;
  /** How long a key is remembered (the draft and PRODUCT.md: 24 hours). */
  ttlSeconds: number;
}

const WRITE_METHODS = new Set(['POST', 'PUT', 'DELETE']);
/** Longer than any request may take (the server's request timeout is 60 s). */
const LOCK_TTL_MS = 90_000;
const JSON_TYPE = 'application/json; charset=utf-8';

/**
 * Idempotency-Key on writes. A first request takes an in-flight lock, then its write stores the
 * key with the response in the same transaction (WriteCommand.idempotency), so a crash can
 * never keep one without the other. A repeat with the same body gets the stored response back; a
 * repeat with another body 422; a repeat while the first is running 409. Errors are not stored:
 * a request that failed may be retried with the same key.
 */
export function createIdempotency({ db, dialect, locks, ttlSeconds }: IdempotencyOptions) {
  /** A key's stored response, read on the reader connection without Kysely's (a hot path). */
  const storedResponse = preparedReadFirst<Stored, [keyId: string, key: string]>(
    dialect,
    db
      .selectFrom('idempotency_keys')
      .select(['fingerprint', 'status_code', 'response_body', 'request_id', 'expires_at'])
      .where('key_id', '=', '')
      .where('idempotency_key', '=', ''),
  );

  async function find(keyId: string, key: string): Promise<Stored | undefined> {
    const row = await storedResponse(keyId, key);
    return row && row.expires_at > nowIso() ? row : undefined;
  }

  function replay(
    stored: Stored,
    fingerprint: string,
    request: FastifyRequest,
    reply: FastifyReply,
  ): FastifyReply {
    if (stored.fingerprint !== fingerprint && stored.fingerprint !== formerFingerprint(request)) {
      throw new ApiError('idempotency_key_reused', {
        details: [{ field: 'Idempotency-Key', error: 'Already used with a different request body or path' }],
      });
    }
    return reply
      .code(stored.status_code)
      .header('Idempotent-Replayed', 'true')
      .header('Original-Request-Id', stored.request_id)
      .type(JSON_TYPE)
      .send(stored.response_body);
  }

  async function release(request: FastifyRequest): Promise<void> {
    const lock = request.idempotency?.lock;
    if (!lock) return;
    request.idempotency = { ...(request.idempotency as InFlight), lock: null };
    await locks.release(lock, request.id);
  }

  return {
    /** preHandler for the /api scope: replays, refuses, or marks the key in flight. */
    async preHandler(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> {
      request.idempotency = undefined;
      if (request.headers['idempotency-key'] === undefined || !WRITE_METHODS.has(request.method)) {
        return undefined;
      }
      const key = parseIdempotencyKey(request) as string;
      const keyId = request.apiKey.id;
      const fingerprint = requestFingerprint(request);
      const stored = await find(keyId, key);
      if (stored) return replay(stored, fingerprint, request, reply);
      const lock = `${keyId}:${sha256(key)}`;
      const acquired = await locks.acquire(lock, request.id, LOCK_TTL_MS);
      if (acquired === 'held') {
        throw new ApiError('idempotency_key_in_flight', { headers: { 'Retry-After': '1' } });
      }
      request.idempotency = { key, fingerprint, lock: acquired === 'acquired' ? lock : null };
      // The first request may have committed and let go of its lock between the lookup and now.
      const committed = await find(keyId, key);
      if (committed) {
        await release(request);
        return replay(committed, fingerprint, request, reply);
      }
      return undefined;
    },

    /** A write preparer: the key and the response are stored with the write (record-writer.ts). */
    prepareWrite(request: FastifyRequest, command: WriteCommand): void {
      const state = request.idempotency;
      if (!state) return;
      command.idempotency = {
        keyId: request.apiKey.id,
        key: state.key,
        fingerprint: state.fingerprint,
        expiresAt: isoAfter(ttlSeconds),
      };
    },

    /** onSend: the response is decided (the write committed or failed), so the lock can go. */
    release,

    /** Deletes keys past their 24 hours. */
    async prune(): Promise<number> {
      const result = await db
        .deleteFrom('idempotency_keys')
        .where('expires_at', '<=', nowIso())
        .executeTakeFirst();
      return Number(result.numDeletedRows);
    },
  };
}

export type Idempotency = ReturnType<typeof createIdempotency>;
