import { sql, type Transaction } from 'kysely';
import { ApiError } from '../errors.ts';
import { newId } from '../ids.ts';
import type { InvalidationBus } from '../infra/bus/bus.ts';
import { LoadingCache } from '../infra/cache/loading-cache.ts';
import { safeEqualBytes, sha256 } from '../infra/crypto/hash.ts';
import { generateSecret, hasValidChecksum } from '../infra/crypto/token-format.ts';
import { type Db, lockRow } from '../infra/db/database.ts';
import type { DialectAdapter } from '../infra/db/dialect.ts';
import { createLastUsed, type LastUsed } from '../infra/db/last-used.ts';
import type { ApiKeysTable, Database } from '../infra/db/schema.ts';
import { isoAfter, nowIso, refusePastExpiry } from '../time.ts';
import { previousStillSigns } from '../webhooks/callback-secrets.ts';
import {
  type KeyLimits,
  parseKeyCreate,
  parseKeyPatch,
  parseRoll,
  refuseUnreachableLimits,
} from './key-input.ts';

export type Environment = 'test' | 'live';
/** A key's status as stored: what deactivate, activate and revoke set. */
export type KeyStatus = 'active' | 'inactive' | 'revoked';
/**
 * A key's status as the management API shows it: an active key whose `expires_at` has passed is
 * `expired` (the data API refuses it with api_key_expired). A revoked or deactivated key keeps
 * that status once it expires too: the data API names that first, and it is what would still
 * stop the key if it were given a later expiry.
 */
export type KeyStatusShown = KeyStatus | 'expired';

export interface ApiKeyJson {
  id: string;
  object: 'api_key';
  name: string;
  environment: Environment;
  /** The first characters of the secret, to tell keys apart. */
  start: string;
  scopes: string[];
  limits: KeyLimits;
  status: KeyStatusShown;
  expires_at: string | null;
  last_used_at: string | null;
  created_at: string;
  updated_at: string;
  /** The dashboard user who created the key; null for keys made with a management token before roles. */
  created_by: string | null;
}

/** The calling key, as the data API sees it. */
/** Hex digits of a secret's SHA-256 that name it inside a token: enough to tell a key's secrets apart. */
const SECRET_ID_LENGTH = 16;

export interface AuthenticatedKey {
  id: string;
  name: string;
  environment: Environment;
  scopes: ReadonlySet<string>;
  limits: KeyLimits;
  status: KeyStatus;
  expiresAt: number | null;
  createdAt: string;
  /** Which generation of its callback signing secret the key has (src/webhooks/callback-secrets.ts). */
  callbackSecretGeneration: number;
}

interface CachedSecret {
  hash: string;
  /** `hash` as bytes, for the constant-time comparison without allocating on every request. */
  hashBytes: Buffer;
  key: AuthenticatedKey;
  /** A rolled key's old secret stops working at this time (epoch ms). */
  secretExpiresAt: number | null;
}

/** A secret as presented, with its SHA-256 (text for lookups, bytes for the comparison). */
interface Presented {
  secret: string;
  hash: string;
  hashBytes: Buffer;
}

function toJson(row: ApiKeysTable, lastUsed: LastUsed): ApiKeyJson {
  return {
    id: row.id,
    object: 'api_key',
    name: row.name,
    environment: row.environment as Environment,
    start: row.start,
    scopes: JSON.parse(row.scopes) as string[],
    limits: row.limits ? (JSON.parse(row.limits) as KeyLimits) : {},
    status: row.status === 'active' && expired(row) ? 'expired' : (row.status as KeyStatus),
    expires_at: row.expires_at,
    last_used_at: lastUsed.of(row),
    created_at: row.created_at,
    updated_at: row.updated_at,
    created_by: row.created_by ?? null,
  };
}

function normalizeLimits(limits: KeyLimits | null | undefined): string | null {
  if (!limits) return null;
  const out: KeyLimits = {};
  for (const window of ['per_minute', 'per_day', 'per_month'] as const) {
    const value = limits[window];
    if (typeof value === 'number') out[window] = value;
  }
  return Object.keys(out).length === 0 ? null : JSON.stringify(out);
}

export function hasScope(key: AuthenticatedKey, slug: string, action: 'read' | 'write'): boolean {
  return key.scopes.has('*') || key.scopes.has(`records:${action}`) || key.scopes.has(`${slug}:${action}`);
}

export interface KeyServiceOptions {
  db: Db;
  dialect: DialectAdapter;
  /** Lifecycle changes are announced here so every process drops its cached keys. */
  bus: InvalidationBus;
  prefix: string;
  cacheTtlMs: number;
  rollGraceSeconds: number;
  /** The installation's default limits: a collaborator's keys may not go past them. */
  defaultLimits?: KeyLimits;
}

/**
 * A collaborator's key stays within the owner's installation defaults: for each window that has
 * one, the key's own limit (which always wins over the default) may be lower, not higher.
 */
function refuseAboveDefaults(limits: string | null, defaults: KeyLimits): void {
  const own = limits ? (JSON.parse(limits) as KeyLimits) : {};
  for (const window of ['per_minute', 'per_day', 'per_month'] as const) {
    const ceiling = defaults[window];
    const value = own[window];
    if (typeof ceiling === 'number' && typeof value === 'number' && value > ceiling) {
      throw new ApiError('forbidden', {
        message: `Collaborators may set limits.${window} up to the installation's default, ${ceiling}`,
        details: [{ field: `limits.${window}`, error: `At most ${ceiling} (the installation's default)` }],
      });
    }
  }
}

export type KeyService = ReturnType<typeof createKeyService>;

/** How long a secret accepted once still passes a blocked address (the default block's length). */
const GOOD_FOR_MS = 15 * 60_000;
/** A secret's time of acceptance is written at most this often (not on every request). */
const GOOD_REFRESH_MS = 5_000;
const GOOD_MAX = 50_000;
/** How long a rotated callback secret keeps signing alongside the new one, unless told otherwise. */
const CALLBACK_OVERLAP_SECONDS = 86_400;

/** Whether the key's expires_at has passed. */
function expired(row: { expires_at: string | null }): boolean {
  return row.expires_at !== null && Date.parse(row.expires_at) <= Date.now();
}

export function createKeyService({
  db,
  dialect,
  bus,
  prefix,
  cacheTtlMs,
  rollGraceSeconds,
  defaultLimits = {},
}: KeyServiceOptions) {
  const secrets = new LoadingCache<string, CachedSecret | null>(cacheTtlMs, 50_000, (hash) =>
    loadSecret(hash),
  );
  const byConnection = new WeakMap<object, Presented>();
  const byId = new LoadingCache<string, AuthenticatedKey | null>(cacheTtlMs, 50_000, (id) => loadKey(id));
  /** Each key's secrets, as the id a token minted with one carries (`secretId`), and their expiry. */
  const secretsOfKey = new LoadingCache<string, Array<{ id: string; expiresAt: number | null }>>(
    cacheTtlMs,
    50_000,
    async (keyId) =>
      (
        await db
          .selectFrom('api_key_secrets')
          .select(['hash', 'expires_at'])
          .where('key_id', '=', keyId)
          .execute()
      ).map((row) => ({
        id: row.hash.slice(0, SECRET_ID_LENGTH),
        expiresAt: row.expires_at ? Date.parse(row.expires_at) : null,
      })),
  );
  /** The secret `secretId` of a key (a token's `sid`), from the cache of its secrets. */
  const secretOfKey = async (keyId: string, secretId: string, now: number) =>
    (await secretsOfKey.get(keyId, now)).find((s) => s.id === secretId);
  /**
   * Secrets accepted lately (by hash): their key and when. A blocked address may still present
   * one (`knows`), however long ago its cache entry expired, so that a partner's working key is
   * not locked out by someone else's guesses behind the same address. A change to the key
   * (revoke, deactivate, edit, roll) forgets it.
   */
  const goodAt = new Map<string, { keyId: string; at: number }>();
  function remember(hash: string, keyId: string, now: number): void {
    const seen = goodAt.get(hash);
    if (seen && now - seen.at < GOOD_REFRESH_MS) return;
    goodAt.delete(hash);
    if (goodAt.size >= GOOD_MAX) goodAt.delete(goodAt.keys().next().value as string);
    goodAt.set(hash, { keyId, at: now });
  }
  bus.subscribe('keys', (subject) => {
    if (subject) for (const [hash, seen] of goodAt) if (seen.keyId === subject) goodAt.delete(hash);
    secrets.clear();
    byId.clear();
    secretsOfKey.clear();
  });
  const pattern = new RegExp(`^${prefix}_(test|live)_`);
  const lastUsed = createLastUsed(db, dialect, 'api_keys');

  async function requireRow(id: string): Promise<ApiKeysTable> {
    const row = await db.selectFrom('api_keys').selectAll().where('id', '=', id).executeTakeFirst();
    if (!row) throw new ApiError('key_not_found', { message: `API key "${id}" not found` });
    return row;
  }

  /**
   * 409 for a change that cannot make an expired key work (activate, roll): the user is told what
   * would: a later expires_at, or none.
   */
  function expiredConflict(row: { id: string; expires_at: string | null }, why: string): ApiError {
    return new ApiError('conflict', {
      message: `The key expired at ${row.expires_at}: ${why}. Give it a later expires_at (or null) first: PATCH /admin/v1/keys/${row.id} (gatehouse keys update ${row.id} --expires-at <when|none>)`,
    });
  }

  async function setStatus(id: string, status: KeyStatus): Promise<ApiKeyJson> {
    const row = await requireRow(id);
    const revokedConflict = () =>
      new ApiError('conflict', { message: 'A revoked key cannot be changed; create a new key' });
    if (row.status === 'revoked' && status !== 'revoked') throw revokedConflict();
    if (status === 'active' && expired(row))
      throw expiredConflict(row, 'activating it would not make it work');
    // Already so (a second click, a retried call): nothing to change, so updated_at stays (a
    // revoked key's is when it was revoked) and no process drops its cached keys. Unless the key
    // changed since the read above (a revoke meanwhile): then as any change, below.
    if (row.status === status) {
      const same = await db
        .updateTable('api_keys')
        .set({ status })
        .where('id', '=', id)
        .where('status', '=', status)
        .executeTakeFirst();
      if (Number(same.numUpdatedRows) > 0) return toJson(row, lastUsed);
    }
    const updated = { ...row, status, updated_at: nowIso() };
    let write = db
      .updateTable('api_keys')
      .set({ status, updated_at: updated.updated_at })
      .where('id', '=', id);
    // A revoke made since the read above (another request, another process) is for good: an
    // activate or deactivate that read the key before it must not bring it back.
    if (status !== 'revoked') write = write.where('status', '!=', 'revoked');
    const written = await write.executeTakeFirst();
    if (Number(written.numUpdatedRows) === 0) throw revokedConflict();
    bus.publish('keys', id);
    return toJson(updated, lastUsed);
  }

  async function loadKey(id: string): Promise<AuthenticatedKey | null> {
    const row = await db.selectFrom('api_keys').selectAll().where('id', '=', id).executeTakeFirst();
    if (!row) return null;
    return {
      id: row.id,
      name: row.name,
      environment: row.environment as Environment,
      scopes: new Set(JSON.parse(row.scopes) as string[]),
      limits: row.limits ? (JSON.parse(row.limits) as KeyLimits) : {},
      status: row.status as KeyStatus,
      expiresAt: row.expires_at ? Date.parse(row.expires_at) : null,
      createdAt: row.created_at,
      callbackSecretGeneration: Number(row.callback_secret_generation),
    };
  }

  async function loadSecret(hash: string): Promise<CachedSecret | null> {
    const row = await db
      .selectFrom('api_key_secrets as s')
      .innerJoin('api_keys as k', 'k.id', 's.key_id')
      .select(['s.hash', 's.expires_at as secret_expires_at', 'k.id', 'k.name', 'k.environment', 'k.scopes'])
      .select(['k.limits', 'k.status', 'k.expires_at', 'k.created_at', 'k.callback_secret_generation'])
      .where('s.hash', '=', hash)
      .executeTakeFirst();
    if (!row) return null;
    return {
      hash: row.hash,
      hashBytes: Buffer.from(row.hash),
      secretExpiresAt: row.secret_expires_at ? Date.parse(row.secret_expires_at) : null,
      key: {
        id: row.id,
        name: row.name,
        environment: row.environment as Environment,
        scopes: new Set(JSON.parse(row.scopes) as string[]),
        limits: row.limits ? (JSON.parse(row.limits) as KeyLimits) : {},
        status: row.status as KeyStatus,
        expiresAt: row.expires_at ? Date.parse(row.expires_at) : null,
        createdAt: row.created_at,
        callbackSecretGeneration: Number(row.callback_secret_generation),
      },
    };
  }

  /**
   * The SHA-256 of a presented secret. A keep-alive connection presents the same secret on every
   * request: its last secret and hash are kept with the connection (released with it), so the
   * hash is computed once per connection rather than per request. The string comparison there
   * is between two secrets the same client sent, so its timing tells nobody anything.
   */
  function presented(secret: string, connection: object | undefined): Presented {
    if (connection) {
      const last = byConnection.get(connection);
      if (last?.secret === secret) return last;
    }
    const hash = sha256(secret);
    const digest = { secret, hash, hashBytes: Buffer.from(hash) };
    if (connection) byConnection.set(connection, digest);
    return digest;
  }

  function accept(found: CachedSecret | null, given: Presented, now: number): AuthenticatedKey {
    if (!found || !safeEqualBytes(found.hashBytes, given.hashBytes)) throw new ApiError('invalid_api_key');
    if (found.secretExpiresAt !== null && found.secretExpiresAt <= now) throw new ApiError('invalid_api_key');
    const { key } = found;
    if (key.status === 'revoked') throw new ApiError('api_key_revoked');
    if (key.status === 'inactive') throw new ApiError('api_key_inactive');
    if (key.expiresAt !== null && key.expiresAt <= now) throw new ApiError('api_key_expired');
    lastUsed.note(key.id, now);
    remember(given.hash, key.id, now);
    return key;
  }

  return {
    /**
     * Checks a presented secret; throws the matching 401. A cached key is answered synchronously
     * (no promise on the hot path); otherwise the database is asked once and the answer cached.
     * A cached hash implies a well-formed secret, so the checksum is checked only on a miss.
     */
    verify(
      secret: string,
      now = Date.now(),
      connection?: object,
    ): AuthenticatedKey | Promise<AuthenticatedKey> {
      const given = presented(secret, connection);
      const hit = secrets.peek(given.hash, now);
      if (hit) return accept(hit.value, given, now);
      const env = pattern.exec(secret)?.[1];
      if (!env || !hasValidChecksum(secret, `${prefix}_${env}`)) throw new ApiError('invalid_api_key');
      return secrets.get(given.hash, now).then((found) => accept(found, given, now));
    },

    /**
     * True when `secret` is a key in good standing that this process holds in its cache, or one it
     * accepted within the last 15 minutes and that has not changed since: answered from memory,
     * never from the database (a blocked address may still use such a key; it is then verified
     * as usual).
     */
    knows(secret: string, now = Date.now(), connection?: object): boolean {
      const given = presented(secret, connection);
      const hit = secrets.peek(given.hash, now);
      if (!hit) {
        const seen = goodAt.get(given.hash);
        return seen !== undefined && now - seen.at < GOOD_FOR_MS;
      }
      try {
        accept(hit.value, given, now);
        return true;
      } catch {
        return false;
      }
    },

    /**
     * The key a short-lived token was minted from, checked as if presented now: revoking,
     * deactivating or expiring the key ends its tokens at once.
     */
    /** Which of its key's secrets `secret` is, for a token minted with it (a prefix of its hash). */
    secretId(secret: string): string {
      return sha256(secret).slice(0, SECRET_ID_LENGTH);
    },

    /** When the secret `secretId` stops working (epoch ms; null: not until the key does). */
    async secretExpiresAt(keyId: string, secretId: string, now = Date.now()): Promise<number | null> {
      return (await secretOfKey(keyId, secretId, now))?.expiresAt ?? null;
    },

    /** Whether the secret a token was minted with still works: a rolled-away one stops at its grace's end. */
    async secretInForce(keyId: string, secretId: string, now = Date.now()): Promise<boolean> {
      const secret = await secretOfKey(keyId, secretId, now);
      return secret !== undefined && (secret.expiresAt === null || secret.expiresAt > now);
    },

    async verifyById(id: string, now = Date.now()): Promise<AuthenticatedKey> {
      const key = await byId.get(id, now);
      if (!key) throw new ApiError('invalid_api_key');
      if (key.status === 'revoked') throw new ApiError('api_key_revoked');
      if (key.status === 'inactive') throw new ApiError('api_key_inactive');
      if (key.expiresAt !== null && key.expiresAt <= now) throw new ApiError('api_key_expired');
      lastUsed.note(key.id, now);
      return key;
    },

    async create(
      body: unknown,
      by: { userId: string | null; testOnly?: boolean } = { userId: null },
    ): Promise<ApiKeyJson & { key: string }> {
      const input = parseKeyCreate(body);
      if (by.testOnly && input.environment !== 'test') {
        throw new ApiError('forbidden', { message: 'Collaborators may create test keys only' });
      }
      refusePastExpiry(input.expires_at);
      const now = nowIso();
      const id = newId('key');
      const secret = generateSecret(`${prefix}_${input.environment}`);
      const row: ApiKeysTable = {
        id,
        name: input.name,
        environment: input.environment,
        start: secret.slice(0, prefix.length + input.environment.length + 6),
        scopes: JSON.stringify(input.scopes ?? ['*']),
        limits: normalizeLimits(input.limits),
        status: 'active',
        expires_at: input.expires_at ? new Date(input.expires_at).toISOString() : null,
        created_at: now,
        updated_at: now,
        last_used_at: null,
        created_by: by.userId,
        callback_secret_generation: 0,
        callback_secret_previous_until: null,
      };
      if (input.limits) refuseUnreachableLimits(input.limits, input.limits);
      if (by.testOnly) refuseAboveDefaults(row.limits, defaultLimits);
      await db.transaction().execute(async (trx) => {
        // Its maker still there, and kept there until this commits: a collaborator removed
        // meanwhile (whose removal revokes their keys under the same lock) keeps no key.
        if (by.userId !== null && !(await lockRow(trx, 'owners', 'id', by.userId))) {
          throw new ApiError('unauthorized', { message: 'Your account was removed' });
        }
        await trx.insertInto('api_keys').values(row).execute();
        await trx
          .insertInto('api_key_secrets')
          .values({ hash: sha256(secret), key_id: id, created_at: now, expires_at: null })
          .execute();
      });
      return { ...toJson(row, lastUsed), key: secret };
    },

    /**
     * The installation's default limit for each window (null: none), which applies to any key
     * that sets no limit of its own there.
     */
    defaultLimits: {
      per_minute: defaultLimits.per_minute ?? null,
      per_day: defaultLimits.per_day ?? null,
      per_month: defaultLimits.per_month ?? null,
    } satisfies Required<KeyLimits>,

    async list(filter: { environment?: Environment; createdBy?: string } = {}): Promise<ApiKeyJson[]> {
      let query = db.selectFrom('api_keys').selectAll().orderBy('created_at', 'desc').orderBy('id', 'desc');
      if (filter.environment) query = query.where('environment', '=', filter.environment);
      if (filter.createdBy) query = query.where('created_by', '=', filter.createdBy);
      const rows = await query.execute();
      return rows.map((row) => toJson(row, lastUsed));
    },

    async get(id: string): Promise<ApiKeyJson> {
      return toJson(await requireRow(id), lastUsed);
    },

    async update(id: string, body: unknown, by: { testOnly?: boolean } = {}): Promise<ApiKeyJson> {
      const patch = parseKeyPatch(body);
      const row = await requireRow(id);
      if (row.status === 'revoked')
        throw new ApiError('conflict', { message: 'A revoked key cannot be changed' });
      // As at creation: a mistyped year would otherwise cut the key off at once, answered "saved".
      // Deactivate or revoke is how a key stops now.
      refusePastExpiry(patch.expires_at);
      const updated: ApiKeysTable = {
        ...row,
        name: patch.name ?? row.name,
        scopes: patch.scopes ? JSON.stringify(patch.scopes) : row.scopes,
        // PATCH semantics: windows not named keep their value, a window set to null is removed,
        // and `limits: null` removes them all.
        limits:
          patch.limits === undefined
            ? row.limits
            : patch.limits === null
              ? null
              : normalizeLimits({
                  ...(row.limits ? (JSON.parse(row.limits) as KeyLimits) : {}),
                  ...patch.limits,
                }),
        expires_at:
          patch.expires_at === undefined
            ? row.expires_at
            : patch.expires_at === null
              ? null
              : new Date(patch.expires_at).toISOString(),
        updated_at: nowIso(),
      };
      if (patch.limits && updated.limits) {
        refuseUnreachableLimits(JSON.parse(updated.limits) as KeyLimits, patch.limits);
      }
      if (by.testOnly && patch.limits !== undefined) refuseAboveDefaults(updated.limits, defaultLimits);
      // Only what the PATCH names is written: the row read above may be stale by now, and
      // writing it back whole would undo a revoke, a roll's new start or a callback secret
      // rotation made meanwhile (another request, another process).
      const changes: Partial<ApiKeysTable> = { updated_at: updated.updated_at };
      if (patch.name !== undefined) changes.name = updated.name;
      if (patch.scopes) changes.scopes = updated.scopes;
      if (patch.limits !== undefined) changes.limits = updated.limits;
      if (patch.expires_at !== undefined) changes.expires_at = updated.expires_at;
      await db.updateTable('api_keys').set(changes).where('id', '=', id).execute();
      bus.publish('keys', id);
      // As stored now, a change made meanwhile included.
      return toJson(await requireRow(id), lastUsed);
    },

    deactivate: (id: string) => setStatus(id, 'inactive'),
    activate: (id: string) => setStatus(id, 'active'),
    revoke: (id: string) => setStatus(id, 'revoked'),

    /**
     * Revokes, in `trx`, every key `userId` made (a collaborator's removal, holding their row: see
     * `create`); the ids revoked, for `forget` once `trx` commits.
     */
    async revokeCreatedBy(trx: Transaction<Database>, userId: string): Promise<string[]> {
      const rows = await trx
        .updateTable('api_keys')
        .set({ status: 'revoked', updated_at: nowIso() })
        .where('created_by', '=', userId)
        .where('status', '!=', 'revoked')
        .returning('id')
        .execute();
      return rows.map((row) => row.id);
    },

    /** Every process forgets the keys (revoked in a transaction of another service's). */
    forget(ids: string[]): void {
      for (const id of ids) bus.publish('keys', id);
    },

    /** A new secret; the old ones keep working for the grace period. */
    async roll(
      id: string,
      body: unknown,
    ): Promise<ApiKeyJson & { key: string; previous_secret_expires_at: string }> {
      const { grace_seconds } = parseRoll(body ?? {});
      const row = await requireRow(id);
      const revokedConflict = () => new ApiError('conflict', { message: 'A revoked key cannot be rolled' });
      if (row.status === 'revoked') throw revokedConflict();
      if (expired(row)) throw expiredConflict(row, 'a new secret would be expired too');
      const graceEnds = isoAfter(grace_seconds ?? rollGraceSeconds);
      const environment = row.environment as Environment;
      const result = await db.transaction().execute(async (trx) => {
        await trx
          .updateTable('api_key_secrets')
          .set({ expires_at: graceEnds })
          .where('key_id', '=', id)
          .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', graceEnds)]))
          .execute();
        const secret = generateSecret(`${prefix}_${environment}`);
        const now = nowIso();
        await trx
          .insertInto('api_key_secrets')
          .values({ hash: sha256(secret), key_id: id, created_at: now, expires_at: null })
          .execute();
        const start = secret.slice(0, prefix.length + environment.length + 6);
        // Revoked since the read above: the new secret is rolled back, not handed out as working.
        const written = await trx
          .updateTable('api_keys')
          .set({ start, updated_at: now })
          .where('id', '=', id)
          .where('status', '!=', 'revoked')
          .executeTakeFirst();
        if (Number(written.numUpdatedRows) === 0) throw revokedConflict();
        return { ...toJson({ ...row, start, updated_at: now }, lastUsed), key: secret };
      });
      bus.publish('keys', id);
      return { ...result, previous_secret_expires_at: graceEnds };
    },

    /**
     * Moves the key's callback signing secret to its next generation. The one before keeps
     * signing alongside for `grace_seconds` (default 24 h, as a subscription's rotation; 0: it
     * stops at once, for a secret that leaked). A revoked key may rotate too: callbacks of its
     * earlier requests may still be on their way.
     */
    async rotateCallbackSecret(
      id: string,
      body: unknown,
    ): Promise<{ generation: number; previousUntil: string | null }> {
      const { grace_seconds } = parseRoll(body ?? {});
      const seconds = grace_seconds ?? CALLBACK_OVERLAP_SECONDS;
      const previousUntil = seconds === 0 ? null : isoAfter(seconds);
      const row = await db
        .updateTable('api_keys')
        .set({
          callback_secret_generation: sql<number>`callback_secret_generation + 1`,
          callback_secret_previous_until: previousUntil,
          updated_at: nowIso(),
        })
        .where('id', '=', id)
        .returning(['callback_secret_generation'])
        .executeTakeFirst();
      if (!row) throw new ApiError('key_not_found', { message: `API key "${id}" not found` });
      bus.publish('keys', id);
      return { generation: Number(row.callback_secret_generation), previousUntil };
    },

    /** The generation of the key's callback signing secret, and until when the one before signs too. */
    async callbackSecretOf(id: string): Promise<{ generation: number; previousUntil: string | null }> {
      const row = await requireRow(id);
      const generation = Number(row.callback_secret_generation);
      const until = row.callback_secret_previous_until;
      return { generation, previousUntil: previousStillSigns(generation, until) ? until : null };
    },

    /** Writes the in-memory last-used times; called on a timer and at shutdown. */
    flushLastUsed(): Promise<void> {
      return lastUsed.flush();
    },
  };
}
