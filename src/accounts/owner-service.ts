import type { Transaction } from 'kysely';
import { inputValidator, NOT_BLANK } from '../endpoints/json-schema.ts';
import { ApiError } from '../errors.ts';
import { newId } from '../ids.ts';
import type { InvalidationBus } from '../infra/bus/bus.ts';
import { TtlCache } from '../infra/cache/ttl-cache.ts';
import { hashPassword, safeEqual, sha256 } from '../infra/crypto/hash.ts';
import { generateSecret, hasValidChecksum } from '../infra/crypto/token-format.ts';
import type { Db } from '../infra/db/database.ts';
import type { DialectAdapter } from '../infra/db/dialect.ts';
import { createLastUsed, type LastUsed } from '../infra/db/last-used.ts';
import type { Database } from '../infra/db/schema.ts';
import { nowIso } from '../time.ts';
import { NEW_PASSWORD } from './password-rule.ts';

export const MANAGEMENT_TOKEN_PREFIX = 'gm';

export interface OwnerJson {
  id: string;
  object: 'user';
  email: string;
  role: string;
  created_at: string;
}

/** A management token as listed: never its secret (that is in the create answer only). */
export interface ManagementTokenJson {
  id: string;
  object: 'management_token';
  name: string;
  created_at: string;
  /** When it was last used (to within the last few seconds), or null: never. */
  last_used_at: string | null;
  /** The token this call was made with. */
  current: boolean;
}

const parseTokenCreate = inputValidator<{ name: string }>({
  type: 'object',
  additionalProperties: false,
  required: ['name'],
  properties: { name: { type: 'string', minLength: 1, maxLength: 200, pattern: NOT_BLANK } },
});

/** At most this many tokens per user: enough for every machine and script, not a flood. */
const MAX_TOKENS = 100;

export interface Principal {
  userId: string;
  role: string;
  email?: string;
  /** Set for a management token (`gm_…`, the CLI). */
  tokenId?: string;
  /** Set for a dashboard session. */
  sessionId?: string;
}

const parseInit = inputValidator<{ email: string; password: string }>({
  type: 'object',
  additionalProperties: false,
  required: ['email', 'password'],
  properties: {
    email: { type: 'string', format: 'email', maxLength: 254 },
    password: NEW_PASSWORD,
  },
});

export type OwnerService = ReturnType<typeof createOwnerService>;

/**
 * Deletes every management token of `userId` but `keep` (the one a call is made with), inside the
 * caller's transaction, so they go with what made them untrusted (a password changed or reset, the
 * user removed) or not at all: how many went. Once it commits, call forgetRevokedTokens.
 */
export async function deleteUserTokens(
  trx: Transaction<Database>,
  userId: string,
  keep?: string,
): Promise<number> {
  let query = trx.deleteFrom('management_tokens').where('owner_id', '=', userId);
  if (keep !== undefined) query = query.where('id', '!=', keep);
  return Number((await query.executeTakeFirst()).numDeletedRows);
}

export function createOwnerService({
  db,
  dialect,
  bus,
  cacheTtlMs,
}: {
  db: Db;
  dialect: DialectAdapter;
  bus: InvalidationBus;
  cacheTtlMs: number;
}) {
  const tokens = new TtlCache<string, Promise<Principal | null>>(cacheTtlMs, 1_000);
  // A token revoked, or its user removed, in any process: every process forgets what it resolved.
  bus.subscribe('tokens', () => tokens.clear());
  const lastUsed = createLastUsed(db, dialect, 'management_tokens');

  return {
    /** Creates the first owner and a management token, shown once. Refuses when an owner exists. */
    async init(input: { email: string; password: string }): Promise<{ owner: OwnerJson; token: string }> {
      const { email, password } = parseInit(input);
      const passwordHash = await hashPassword(password);
      const token = generateSecret(MANAGEMENT_TOKEN_PREFIX);
      const now = nowIso();
      const owner: OwnerJson = {
        id: newId('owner'),
        object: 'user',
        email: email.toLowerCase(),
        role: 'owner',
        created_at: now,
      };
      const initialized = () =>
        new ApiError('already_initialized', {
          message: 'Gatehouse is already initialized: an owner exists. Sign in with that account instead.',
        });
      // The check answers the usual case; two inits at once both pass it on PostgreSQL, and the
      // unique index owners_one_owner (migration 0018) refuses the second one's owner.
      await db
        .transaction()
        .execute(async (trx) => {
          const existing = await trx
            .selectFrom('owners')
            .select('id')
            .where('role', '=', 'owner')
            .executeTakeFirst();
          if (existing) throw initialized();
          await trx
            .insertInto('owners')
            .values({
              id: owner.id,
              email: owner.email,
              password_hash: passwordHash,
              role: 'owner',
              created_at: now,
              last_sign_in_at: null,
            })
            .execute();
          await trx
            .insertInto('management_tokens')
            .values({
              id: newId('token'),
              owner_id: owner.id,
              token_hash: sha256(token),
              name: 'init',
              created_at: now,
              last_used_at: null,
            })
            .execute();
        })
        .catch((error: unknown) => {
          throw dialect.isUniqueViolation(error) ? initialized() : error;
        });
      return { owner, token };
    },

    async hasOwner(): Promise<boolean> {
      return (
        (await db.selectFrom('owners').select('id').where('role', '=', 'owner').executeTakeFirst()) !==
        undefined
      );
    },

    /** A new management token for the calling user, its secret shown once. */
    async createToken(
      principal: Principal,
      input: unknown,
    ): Promise<ManagementTokenJson & { token: string }> {
      const { name } = parseTokenCreate(input);
      const token = generateSecret(MANAGEMENT_TOKEN_PREFIX);
      const row = {
        id: newId('token'),
        owner_id: principal.userId,
        token_hash: sha256(token),
        name: name.trim(),
        created_at: nowIso(),
        last_used_at: null,
      };
      await db.transaction().execute(async (trx) => {
        await credentialStillHeld(trx, principal);
        const held = await trx
          .selectFrom('management_tokens')
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .where('owner_id', '=', principal.userId)
          .executeTakeFirstOrThrow();
        if (Number(held.n) >= MAX_TOKENS) {
          throw new ApiError('conflict', {
            message: `You hold ${MAX_TOKENS} management tokens, the most there can be: revoke one you no longer use first`,
          });
        }
        await trx.insertInto('management_tokens').values(row).execute();
      });
      return { ...tokenJson(row, principal, lastUsed), token };
    },

    /** The calling user's management tokens, oldest first. */
    async listTokens(principal: Principal): Promise<ManagementTokenJson[]> {
      const rows = await db
        .selectFrom('management_tokens')
        .select(['id', 'name', 'created_at', 'last_used_at'])
        .where('owner_id', '=', principal.userId)
        .orderBy('created_at')
        .orderBy('id')
        .execute();
      return rows.map((row) => tokenJson(row, principal, lastUsed));
    },

    /**
     * Revokes one of the calling user's tokens (the one in use too): refused from now on, in every
     * process (the invalidation bus; the cache TTL if its message is lost). Once it returns, no
     * token made with the revoked one can still appear.
     */
    async revokeToken(principal: Principal, id: string): Promise<ManagementTokenJson & { revoked: true }> {
      // Holding the user's row as createToken does: a token being made with this one either
      // commits before the revocation (and is listed after it) or finds this one gone.
      const row = await db.transaction().execute(async (trx) => {
        await credentialStillHeld(trx, principal);
        const found = await trx
          .selectFrom('management_tokens')
          .select(['id', 'name', 'created_at', 'last_used_at', 'token_hash'])
          .where('id', '=', id)
          .where('owner_id', '=', principal.userId)
          .executeTakeFirst();
        if (!found) throw new ApiError('not_found', { message: `No management token ${id} of yours` });
        await trx.deleteFrom('management_tokens').where('id', '=', id).execute();
        return found;
      });
      tokens.delete(row.token_hash);
      bus.publish('tokens');
      return { ...tokenJson(row, principal, lastUsed), revoked: true };
    },

    /**
     * Tokens were deleted outside revokeToken (deleteUserTokens: a password changed or reset, a
     * collaborator removed): no process may keep answering them from its cache, where they would
     * still act as their user. Call it once the deletion has committed.
     */
    forgetRevokedTokens(): void {
      bus.publish('tokens');
    },

    /** Writes the tokens' in-memory last-used times; called on a timer and at shutdown. */
    flushLastUsed(): Promise<void> {
      return lastUsed.flush();
    },

    /** Resolves a management token (`gm_…`) to its user, or throws 401; notes the use. */
    async verifyToken(secret: string): Promise<Principal> {
      if (!hasValidChecksum(secret, MANAGEMENT_TOKEN_PREFIX)) throw unknownToken(secret);
      const hash = sha256(secret);
      let pending = tokens.get(hash);
      if (!pending) {
        pending = db
          .selectFrom('management_tokens as t')
          .innerJoin('owners as o', 'o.id', 't.owner_id')
          .select(['t.id', 't.token_hash', 'o.id as user_id', 'o.role', 'o.email'])
          .where('t.token_hash', '=', hash)
          .executeTakeFirst()
          .then((row) =>
            row && safeEqual(row.token_hash, hash)
              ? { userId: row.user_id, role: row.role, email: row.email, tokenId: row.id }
              : null,
          );
        tokens.set(hash, pending);
        pending.catch(() => tokens.delete(hash));
      }
      const principal = await pending;
      if (!principal) throw unknownToken(secret);
      if (principal.tokenId !== undefined) lastUsed.note(principal.tokenId, Date.now());
      return principal;
    },
  };
}

/**
 * The 401 for a bearer that opens no management token, saying what to do: an API key was sent
 * where a `gm_…` token belongs, or the token is mistyped or gone (revoked, its user's password
 * reset or removed). Unknown and revoked read alike: nothing is told about tokens that exist.
 */
function unknownToken(secret: string): ApiError {
  return new ApiError('unauthorized', {
    message: secret.startsWith(`${MANAGEMENT_TOKEN_PREFIX}_`)
      ? 'Unknown or revoked management token: make a new one with "gatehouse login --email …" (or on the dashboard\'s CLI tokens page)'
      : 'The management API takes a management token, "Authorization: Bearer gm_…", not an API key or other credential',
  });
}

/**
 * Holds the user's row, then refuses (401) if the token or session the call was authenticated
 * with has gone since: a password change (which updates that row first, then revokes tokens and
 * ends sessions in the same transaction), a token revoked (revokeToken holds the row too) or the
 * user's removal. Either the revocation committed first and the credential is found gone, or it
 * waits for this transaction: a password change then deletes what it made, and a token revoked
 * alone returns only once what it made is there to be listed, never later.
 */
async function credentialStillHeld(trx: Transaction<Database>, principal: Principal): Promise<void> {
  const user = await trx
    .updateTable('owners')
    .set((eb) => ({ email: eb.ref('email') }))
    .where('id', '=', principal.userId)
    .executeTakeFirst();
  if (Number(user.numUpdatedRows) === 0) throw new ApiError('unauthorized');
  const held = principal.tokenId
    ? await trx
        .selectFrom('management_tokens')
        .select('id')
        .where('id', '=', principal.tokenId)
        .executeTakeFirst()
    : principal.sessionId
      ? await trx.selectFrom('sessions').select('id').where('id', '=', principal.sessionId).executeTakeFirst()
      : user;
  if (!held) throw new ApiError('unauthorized');
}

function tokenJson(
  row: { id: string; name: string; created_at: string; last_used_at: string | null },
  principal: Principal,
  lastUsed: LastUsed,
): ManagementTokenJson {
  return {
    id: row.id,
    object: 'management_token',
    name: row.name,
    created_at: row.created_at,
    last_used_at: lastUsed.of(row),
    current: row.id === principal.tokenId,
  };
}
