import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Transaction } from 'kysely';
import { ApiError } from '../errors.ts';
import { sha256 } from '../infra/crypto/hash.ts';
import type { Db } from '../infra/db/database.ts';
import type { Database } from '../infra/db/schema.ts';
import type { WriteCommand, WriteOutcome } from '../records/record-writer.ts';
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
 * key with the response in the same transaction (WriteCommand.alsoInTransaction), so a crash can
 * never keep one without the other. A repeat with the same body gets the stored response back; a
 * repeat with another body 422; a repeat while the first is running 409. Errors are not stored:
 * a request that failed may be retried with the same key.
 */
export function createIdempotency({ db, locks, ttlSeconds }: IdempotencyOptions) {
  async function find(keyId: string, key: string): Promise<Stored | undefined> {
    const row = await db
      .selectFrom('idempotency_keys')
      .select(['fingerprint', 'status_code', 'response_body', 'request_id', 'expires_at'])
      .where('key_id', '=', keyId)
      .where('idempotency_key', '=', key)
      .executeTakeFirst();
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

  async function store(
    trx: Transaction<Database>,
    request: FastifyRequest,
    state: InFlight,
    outcome: WriteOutcome,
  ): Promise<void> {
    if (!outcome.ok) return;
    const now = nowIso();
    const row = {
      key_id: request.apiKey.id,
      idempotency_key: state.key,
      fingerprint: state.fingerprint,
      request_id: request.id,
      record_id: outcome.recordId,
      status_code: 202,
      // The exact body the data API answers a write with (see records/routes.ts).
      response_body: `{"success":true,"id":"${outcome.recordId}","message":"Request queued"}`,
      created_at: now,
      expires_at: isoAfter(ttlSeconds),
    };
    const result = await trx
      .insertInto('idempotency_keys')
      .values(row)
      .onConflict((oc) =>
        oc
          .columns(['key_id', 'idempotency_key'])
          .doUpdateSet(row)
          // Only an expired, not yet pruned key may be taken over.
          .where('idempotency_keys.expires_at', '<=', now),
      )
      .executeTakeFirst();
    if (Number(result.numInsertedOrUpdatedRows ?? 0) === 0) {
      // A duplicate that got past the lock (Redis down, or another process without Redis)
      // committed first: this write rolls back, so there is still exactly one.
      throw new ApiError('idempotency_key_in_flight', { headers: { 'Retry-After': '1' } });
    }
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

    /** A write preparer: stores the key and the response with the write. */
    prepareWrite(request: FastifyRequest, command: WriteCommand): void {
      const state = request.idempotency;
      if (!state) return;
      const previous = command.alsoInTransaction;
      command.alsoInTransaction = async (trx, outcome) => {
        if (previous) await previous(trx, outcome);
        await store(trx, request, state, outcome);
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
