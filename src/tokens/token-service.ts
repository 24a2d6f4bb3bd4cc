import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { decodeProtectedHeader, errors, jwtVerify, SignJWT } from 'jose';
import { inputValidator } from '../endpoints/json-schema.ts';
import { ApiError } from '../errors.ts';
import { newId } from '../ids.ts';
import type { InvalidationBus } from '../infra/bus/bus.ts';
import type { Encryptor } from '../infra/crypto/encryption.ts';
import { sha256 } from '../infra/crypto/hash.ts';
import type { Db } from '../infra/db/database.ts';
import type { AuthenticatedKey, KeyService } from '../keys/key-service.ts';

/**
 * Short-lived JWTs minted from an API key (HS256, at most 1 h, 15 min by default), bound to the
 * key's environment. Verifying one re-checks the key itself, so revoking or deactivating the key
 * ends its tokens at once. Signing keys live encrypted in the database; rotation adds a new one
 * that signs from then on, while older ones keep verifying the tokens they signed until those
 * expire. Each process caches them; a rotation is announced on the bus, and a token naming a key
 * this process does not know (rotated elsewhere, the announcement not here yet) has them read
 * again, at most once per UNKNOWN_KID_RELOAD_MS: anyone can send such a token, and each read is a
 * database query and a decryption.
 */

interface SigningKey {
  kid: string;
  secret: string;
  created_at: string;
}

const SETTING = 'jwt_signing_keys';
const MAX_TTL = 3600;
const ISSUER = 'gatehouse';
/** Signing keys are read again for tokens naming an unknown key at most this often. */
export const UNKNOWN_KID_RELOAD_MS = 1_000;
/** How many minted or accepted tokens are remembered as good (the oldest is forgotten first). */
const GOOD_MAX = 50_000;

const parseMint = inputValidator<{ expires_in?: number }>({
  type: 'object',
  additionalProperties: false,
  properties: { expires_in: { type: 'integer', minimum: 30, maximum: MAX_TTL } },
});

export type TokenService = ReturnType<typeof createTokenService>;

export function createTokenService(deps: {
  db: Db;
  encryptor: Encryptor;
  keys: KeyService;
  bus: InvalidationBus;
}) {
  const { db, encryptor, keys, bus } = deps;
  let cache: Promise<SigningKey[]> | undefined;
  bus.subscribe('signing-keys', () => {
    cache = undefined;
  });
  /**
   * Tokens this process minted or accepted (by SHA-256), with their key and expiry (epoch ms): a
   * blocked address may still present one (`knows`), as it may a key accepted lately, so that one
   * client's guesses do not lock a partner's tokens out from behind the same address. A change to
   * the key (revoke, deactivate, edit, roll) forgets its tokens.
   */
  const good = new Map<string, { keyId: string; expiresAt: number }>();
  function remember(token: string, keyId: string, expiresAt: number): void {
    const hash = sha256(token);
    if (good.has(hash)) return;
    if (good.size >= GOOD_MAX) good.delete(good.keys().next().value as string);
    good.set(hash, { keyId, expiresAt });
  }
  bus.subscribe('keys', (subject) => {
    if (!subject) good.clear();
    else for (const [hash, seen] of good) if (seen.keyId === subject) good.delete(hash);
  });
  /** When the latest read of the keys into the cache began (0: never). */
  let lastRead = 0;
  /** The next read for tokens naming an unknown key, until it begins: each such token waits for it. */
  let pendingReload: Promise<SigningKey[]> | undefined;

  async function readKeys(): Promise<SigningKey[]> {
    const row = await db.selectFrom('settings').select('value').where('key', '=', SETTING).executeTakeFirst();
    if (row) return JSON.parse(encryptor.decrypt(row.value)) as SigningKey[];
    return [];
  }

  async function writeKeys(list: SigningKey[], existed: boolean): Promise<void> {
    const value = encryptor.encrypt(JSON.stringify(list));
    if (existed) await db.updateTable('settings').set({ value }).where('key', '=', SETTING).execute();
    else
      await db
        .insertInto('settings')
        .values({ key: SETTING, value })
        .onConflict((oc) => oc.column('key').doNothing())
        .execute();
  }

  function newKey(): SigningKey {
    return {
      kid: randomBytes(8).toString('hex'),
      secret: randomBytes(32).toString('base64url'),
      created_at: new Date().toISOString(),
    };
  }

  async function signingKeys(): Promise<SigningKey[]> {
    cache ??= (async () => {
      lastRead = Date.now();
      let list = await readKeys();
      if (list.length === 0) {
        await writeKeys([newKey()], false);
        list = await readKeys();
      }
      return list;
    })();
    cache.catch(() => {
      cache = undefined;
    });
    return cache;
  }

  /**
   * The keys as read after this call, no sooner than UNKNOWN_KID_RELOAD_MS after the last read:
   * every call until that read begins shares it, so that a key written before the call is in it.
   */
  function reloadKeys(): Promise<SigningKey[]> {
    pendingReload ??= (async () => {
      const wait = lastRead + UNKNOWN_KID_RELOAD_MS - Date.now();
      if (wait > 0) await sleep(wait, undefined, { ref: false });
      pendingReload = undefined;
      cache = undefined;
      return signingKeys();
    })();
    return pendingReload;
  }

  return {
    /**
     * `secretId`: the key's secret it was minted with (`keys.secretId`); the token ends when that
     * secret does (a roll's grace). Without one (the dashboard's own, 60 s) it follows the key.
     */
    async mint(
      key: AuthenticatedKey,
      body: unknown,
      secretId?: string,
    ): Promise<{ token: string; token_type: 'Bearer'; expires_at: string; environment: string }> {
      const { expires_in } = parseMint(body ?? {});
      const ttl = expires_in ?? 900;
      const list = await signingKeys();
      const current = list[list.length - 1];
      if (!current) throw new ApiError('internal_error');
      const now = Math.floor(Date.now() / 1000);
      // Never past what it was minted with, which ends it anyway (verify): the key's expires_at,
      // the end of a rolled-away secret's grace. Its expires_at says when it truly stops.
      let exp = now + ttl;
      const ends = [key.expiresAt, secretId ? await keys.secretExpiresAt(key.id, secretId) : null];
      for (const end of ends) if (end !== null) exp = Math.min(exp, Math.floor(end / 1000));
      // What it was minted with ends within this second: the token would be refused as it is given.
      if (exp <= now) {
        throw new ApiError('api_key_expired', {
          message: 'API key expires within a second: no token was minted',
        });
      }
      const token = await new SignJWT({
        env: key.environment,
        scopes: [...key.scopes],
        ...(secretId ? { sid: secretId } : {}),
      })
        .setProtectedHeader({ alg: 'HS256', kid: current.kid })
        .setIssuer(ISSUER)
        .setSubject(key.id)
        .setIssuedAt(now)
        .setExpirationTime(exp)
        // Its own id: two tokens minted in the same second are still two tokens (RFC 7519 jti).
        .setJti(newId('token'))
        .sign(Buffer.from(current.secret, 'base64url'));
      remember(token, key.id, exp * 1000);
      return {
        token,
        token_type: 'Bearer',
        expires_at: new Date(exp * 1000).toISOString(),
        environment: key.environment,
      };
    },

    /** A JWT presented as a bearer credential → the key behind it, or a 401. */
    async verify(token: string): Promise<AuthenticatedKey> {
      let list = await signingKeys();
      let kid: string | undefined;
      try {
        kid = decodeProtectedHeader(token).kid;
      } catch {
        throw new ApiError('invalid_api_key', { message: 'Invalid token' });
      }
      // Another process may have rotated just now: read the keys again before refusing.
      if (kid && !list.some((k) => k.kid === kid)) list = await reloadKeys();
      let payload: { sub?: string; env?: unknown; sid?: unknown; exp?: number };
      try {
        ({ payload } = await jwtVerify(
          token,
          async (header) => {
            const found = list.find((k) => k.kid === header.kid);
            if (!found) throw new errors.JWSSignatureVerificationFailed('unknown key id');
            return Buffer.from(found.secret, 'base64url');
          },
          { issuer: ISSUER, algorithms: ['HS256'] },
        ));
      } catch (error) {
        if (error instanceof errors.JWTExpired)
          throw new ApiError('api_key_expired', { message: 'Token expired' });
        throw new ApiError('invalid_api_key', { message: 'Invalid token' });
      }
      if (!payload.sub) throw new ApiError('invalid_api_key', { message: 'Invalid token' });
      const key = await keys.verifyById(payload.sub);
      // Bound to its environment: a token can never act in another one.
      if (payload.env !== key.environment)
        throw new ApiError('invalid_api_key', { message: 'Invalid token' });
      // Rolling a leaked key must shut out its thief: a token lives no longer than its secret.
      if (payload.sid !== undefined && !(await keys.secretInForce(key.id, String(payload.sid))))
        throw new ApiError('invalid_api_key', {
          message: 'Invalid token: the key secret it was minted with has been rolled',
        });
      if (payload.exp !== undefined) remember(token, key.id, payload.exp * 1000);
      return key;
    },

    /**
     * True when `token` is one this process minted or accepted, unexpired, and its key has not
     * changed since: answered from memory (a blocked address may still use it; it is then
     * verified as usual).
     */
    knows(token: string, now = Date.now()): boolean {
      const seen = good.get(sha256(token));
      return seen !== undefined && seen.expiresAt > now;
    },

    /** A new signing key; tokens signed by older ones keep working until they expire. */
    async rotate(): Promise<{ kid: string; keys: number }> {
      const list = await readKeys();
      const cutoff = Date.now() - 2 * MAX_TTL * 1000;
      const kept = list.filter((k, i) => i === list.length - 1 || Date.parse(k.created_at) > cutoff);
      const fresh = newKey();
      await writeKeys([...kept, fresh], list.length > 0);
      // Every process drops its keys, this one at once.
      bus.publish('signing-keys');
      return { kid: fresh.kid, keys: kept.length + 1 };
    },
  };
}
