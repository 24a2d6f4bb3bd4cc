import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from '../errors.ts';
import { sha256 } from '../infra/crypto/hash.ts';
import type { Db } from '../infra/db/database.ts';
import type { DialectAdapter } from '../infra/db/dialect.ts';
import { preparedReadFirst } from '../infra/db/prepared.ts';
import type { IdempotencyRecord, WriteCommand } from '../records/record-writer.ts';
import { isoAfter, nowIso } from '../time.ts';
import {
  type Fingerprinted,
  formerFingerprint,
  parseIdempotencyKey,
  requestFingerprint,
} from './idempotency-key.ts';
import type { InFlightLocks, LockResult } from './in-flight-locks.ts';

export interface InFlight {
  key: string;
  fingerprint: string;
  /** The lock to release once the response is decided; null when no lock could be taken. */
  lock: string | null;
}

/** What `begin` decided: replay a stored response, or write holding the key. */
export type Begun = { replay: Stored; state?: undefined } | { replay?: undefined; state: InFlight };

/** The headers of a replayed response. */
export function replayHeaders(stored: Stored): Record<string, string> {
  return { 'Idempotent-Replayed': 'true', 'Original-Request-Id': stored.request_id };
}

declare module 'fastify' {
  interface FastifyRequest {
    idempotency: InFlight | undefined;
  }
}

/** A stored response, as a replay sends it. */
export interface Stored {
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

/** A stored response still within its time; undefined past it (prune has yet to delete it). */
function live(row: Stored | undefined): Stored | undefined {
  return row && row.expires_at > nowIso() ? row : undefined;
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

  /** The key's live stored response; synchronous on SQLite (its reader connection). */
  function find(keyId: string, key: string): Stored | undefined | Promise<Stored | undefined> {
    const row = storedResponse(keyId, key);
    return row instanceof Promise ? row.then(live) : live(row);
  }

  /** 422 unless the stored response was for this same request (now, or as older releases fingerprinted it). */
  function matching(stored: Stored, fingerprint: string, request: Fingerprinted): Stored {
    if (stored.fingerprint !== fingerprint && stored.fingerprint !== formerFingerprint(request)) {
      throw new ApiError('idempotency_key_reused', {
        details: [
          {
            field: 'Idempotency-Key',
            error: 'Already used with a different request body, path or callback (X-Webhook-Callback)',
          },
        ],
      });
    }
    return stored;
  }

  async function unlock(state: InFlight, requestId: string): Promise<void> {
    const { lock } = state;
    if (!lock) return;
    state.lock = null;
    await locks.release(lock, requestId);
  }

  /**
   * A keyed write's first step, on either path (Fastify's preHandler, fast-path.ts): the stored
   * response to replay, or the key marked in flight (`state`, to store with the write and unlock
   * once the answer is decided). 422 for a key used with another request, 409 while it is in
   * flight. On SQLite with this process's own locks it is synchronous, no promise made.
   */
  function begin(
    keyId: string,
    key: string,
    request: Fingerprinted,
    requestId: string,
  ): Begun | Promise<Begun> {
    const fingerprint = requestFingerprint(request);
    const lock = `${keyId}:${sha256(key)}`;

    function locked(acquired: LockResult, atOnce: boolean): Begun | Promise<Begun> {
      if (acquired === 'held') {
        throw new ApiError('idempotency_key_in_flight', { headers: { 'Retry-After': '1' } });
      }
      const state: InFlight = { key, fingerprint, lock: acquired === 'acquired' ? lock : null };
      // Looked up and locked in one synchronous step, no other request ran in between; else the
      // first request may have committed and let go of its lock between the lookup and now.
      if (atOnce) return { state };
      return Promise.resolve(find(keyId, key)).then(
        async (committed) => {
          if (!committed) return { state };
          await unlock(state, requestId);
          return { replay: matching(committed, fingerprint, request) };
        },
        async (error: unknown) => {
          await unlock(state, requestId);
          throw error;
        },
      );
    }

    const stored = find(keyId, key);
    if (stored instanceof Promise) {
      return stored.then(async (found) =>
        found
          ? { replay: matching(found, fingerprint, request) }
          : locked(await locks.acquire(lock, requestId, LOCK_TTL_MS), false),
      );
    }
    if (stored) return { replay: matching(stored, fingerprint, request) };
    const acquired = locks.acquire(lock, requestId, LOCK_TTL_MS);
    return acquired instanceof Promise
      ? acquired.then((result) => locked(result, false))
      : locked(acquired, true);
  }

  /** What the write stores with itself (WriteCommand.idempotency). */
  function record(keyId: string, state: InFlight): IdempotencyRecord {
    return { keyId, key: state.key, fingerprint: state.fingerprint, expiresAt: isoAfter(ttlSeconds) };
  }

  return {
    begin,
    record,
    unlock,

    /** preHandler for the /api scope: replays, refuses, or marks the key in flight. */
    async preHandler(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> {
      request.idempotency = undefined;
      if (request.headers['idempotency-key'] === undefined || !WRITE_METHODS.has(request.method)) {
        return undefined;
      }
      const key = parseIdempotencyKey(request) as string;
      const begun = await begin(request.apiKey.id, key, request, request.id);
      if (begun.state) {
        request.idempotency = begun.state;
        return undefined;
      }
      const { replay } = begun;
      return reply
        .code(replay.status_code)
        .headers(replayHeaders(replay))
        .type(JSON_TYPE)
        .send(replay.response_body);
    },

    /** A write preparer: the key and the response are stored with the write (record-writer.ts). */
    prepareWrite(request: FastifyRequest, command: WriteCommand): void {
      const state = request.idempotency;
      if (state) command.idempotency = record(request.apiKey.id, state);
    },

    /** onSend: the response is decided (the write committed or failed), so the lock can go. */
    async release(request: FastifyRequest): Promise<void> {
      if (request.idempotency) await unlock(request.idempotency, request.id);
    },

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
