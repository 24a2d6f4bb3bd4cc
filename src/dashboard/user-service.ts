import { randomBytes } from 'node:crypto';
import type { Transaction } from 'kysely';
import type { Logger } from 'pino';
import { deleteUserTokens } from '../accounts/owner-service.ts';
import { NEW_PASSWORD } from '../accounts/password-rule.ts';
import { inputValidator } from '../endpoints/json-schema.ts';
import { ApiError, invalid } from '../errors.ts';
import { newId } from '../ids.ts';
import { hashPassword, safeEqual, sha256, verifyPassword } from '../infra/crypto/hash.ts';
import { type Db, lockName, lockRow } from '../infra/db/database.ts';
import type { DialectAdapter } from '../infra/db/dialect.ts';
import type { Database } from '../infra/db/schema.ts';
import { clientScope } from '../limits/client-scope.ts';
import { isoAfter, nowIso } from '../time.ts';
import type { AuditLog } from './audit.ts';

export type Role = 'owner' | 'collaborator';

export interface UserJson {
  id: string;
  object: 'user';
  email: string;
  role: Role;
  created_at: string;
  last_sign_in_at: string | null;
}

export interface SessionUser {
  sessionId: string;
  userId: string;
  email: string;
  role: Role;
  csrfToken: string;
  expiresAt: string;
}

/** Failed sign-ins allowed within the window, per email and per client. */
export const SIGN_IN_WINDOW_SECONDS = 15 * 60;
/**
 * Failed sign-ins allowed in the window: per email from one client (password guessing), per
 * client (trying many emails), and per email from all clients together (guessing spread over
 * many addresses). A client is an address, an IPv6 one as its /64 (clientScope): otherwise one
 * IPv6 client could give each guess a fresh address. The last limit is high, so that someone who
 * knows an email cannot lock its user out with a handful of wrong passwords from elsewhere, and
 * it spares the clients the user signed in from lately (signedInFrom).
 */
const FAILURES_PER_EMAIL_AND_CLIENT = 5;
const FAILURES_PER_CLIENT = 20;
const FAILURES_PER_EMAIL = 100;
/** A client its user signed in from this recently is spared the per-email limit (not the others). */
const KNOWN_CLIENT_DAYS = 30;
/** last_seen_at is written at most this often per session. */
const TOUCH_EVERY_MS = 60_000;

/** A password as typed at sign-in (one being chosen: NEW_PASSWORD). */
const GIVEN_PASSWORD = { type: 'string', minLength: 1, maxLength: 1024 } as const;

const parseSignIn = inputValidator<{ email: string; password: string }>({
  type: 'object',
  additionalProperties: false,
  required: ['email', 'password'],
  properties: {
    email: { type: 'string', minLength: 1, maxLength: 254 },
    password: GIVEN_PASSWORD,
  },
});

const parseInvite = inputValidator<{ email: string; expires_in_hours?: number }>({
  type: 'object',
  additionalProperties: false,
  required: ['email'],
  properties: {
    email: { type: 'string', format: 'email', maxLength: 254 },
    expires_in_hours: { type: 'integer', minimum: 1, maximum: 24 * 30 },
  },
});

const parseAccept = inputValidator<{ token: string; password: string }>({
  type: 'object',
  additionalProperties: false,
  required: ['token', 'password'],
  properties: {
    token: { type: 'string', minLength: 1, maxLength: 200 },
    password: NEW_PASSWORD,
  },
});

const parsePasswordChange = inputValidator<{
  current_password: string;
  new_password: string;
  revoke_tokens?: boolean;
}>({
  type: 'object',
  additionalProperties: false,
  required: ['current_password', 'new_password'],
  properties: {
    current_password: GIVEN_PASSWORD,
    new_password: NEW_PASSWORD,
    // Off unless asked for (docs/DECISIONS.md): the dashboard's form asks for it by default.
    revoke_tokens: { type: 'boolean' },
  },
});

const parseNewPassword = inputValidator<{ password: string }>({
  type: 'object',
  additionalProperties: false,
  required: ['password'],
  properties: { password: NEW_PASSWORD },
});

/** Wrong current passwords allowed per user within SIGN_IN_WINDOW_SECONDS (a stolen session guessing). */
const PASSWORD_CHANGE_FAILURES = 5;

const randomToken = () => randomBytes(32).toString('base64url');

type SessionOwner = { id: string; email: string; role: string };
type OpenedSession = { token: string; session: SessionUser };
/** What a password change or reset ended: the user's sessions and management tokens. */
type Ended = { sessions_ended: number; tokens_revoked: number };
/** The user changing their own password, and the credential the call came with (kept). */
export interface PasswordChanger {
  userId: string;
  email: string | null;
  sessionId?: string;
  tokenId?: string;
}

export type UserService = ReturnType<typeof createUserService>;

/**
 * Removes the invites to an email still waiting to be accepted (a new one replaces them; an
 * accepted one leaves nothing to accept): their links stop working. The ids removed.
 */
async function dropPendingInvites(trx: Transaction<Database>, email: string): Promise<string[]> {
  const dropped = await trx
    .deleteFrom('invites')
    .where('email', '=', email)
    .where('accepted_at', 'is', null)
    .returning('id')
    .execute();
  return dropped.map((row) => row.id);
}

/** Any 32-bit constant: the space of lockName's names that stand for an invited email. */
const INVITED_EMAIL_LOCK = 1_764_130_517;

/**
 * Makes the invites to an email and their acceptance run one after another (user-service.ts'
 * transactions that change an email's pending invite or make its user take it first): a re-invite
 * sent at the same moment as another, or as the acceptance, sees what that one did.
 */
const lockInvitedEmail = (trx: Transaction<Database>, dialect: DialectAdapter, email: string) =>
  lockName(trx, dialect.name, INVITED_EMAIL_LOCK, email);

const userExists = (email: string) =>
  new ApiError('conflict', { message: `A user with the email ${email} exists` });

/**
 * Dashboard users: sign-in with server-side sessions, invites that make collaborators, and the
 * list of collaborators. Session and invite tokens are stored only as SHA-256 hashes.
 */
export function createUserService(deps: {
  db: Db;
  dialect: DialectAdapter;
  audit: AuditLog;
  sessions: { idleHours: number; maxDays: number };
  /** Tells every process to forget the management tokens a password change or reset revoked. */
  tokens: { forgetRevokedTokens(): void };
  /** Says why a lockout could not be noted in the audit log (that happens after the answer). */
  logger: Logger;
}) {
  const { db, audit } = deps;
  const touched = new Map<string, number>();
  /** The user and client pairs whose lockout is being noted (noteLockedOut). */
  const noting = new Set<string>();

  function toUser(row: {
    id: string;
    email: string;
    role: string;
    created_at: string;
    last_sign_in_at: string | null;
  }): UserJson {
    return {
      id: row.id,
      object: 'user',
      email: row.email,
      role: row.role as Role,
      created_at: row.created_at,
      last_sign_in_at: row.last_sign_in_at,
    };
  }

  /** An invite that can still be accepted, or invite_not_found. */
  async function lookupInvite(token: string): Promise<{ email: string; expires_at: string }> {
    const row = await db
      .selectFrom('invites')
      .select(['email', 'expires_at', 'accepted_at'])
      .where('token_hash', '=', sha256(token))
      .executeTakeFirst();
    if (!row || row.accepted_at !== null || Date.parse(row.expires_at) <= Date.now()) {
      throw new ApiError('invite_not_found');
    }
    return { email: row.email, expires_at: row.expires_at };
  }

  /** Failures in the window, of a target, from a client (clientScope of its address), or both. */
  async function recentFailures(
    match: { target?: string; client?: string },
    action = 'session.sign_in_failed',
  ): Promise<number> {
    let query = db
      .selectFrom('audit_log')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('action', '=', action)
      .where('at', '>', isoAfter(-SIGN_IN_WINDOW_SECONDS));
    if (match.target !== undefined) query = query.where('target_id', '=', match.target);
    if (match.client !== undefined) query = query.where('client', '=', match.client);
    const row = await query.executeTakeFirst();
    return Number(row?.n ?? 0);
  }

  /**
   * A user's sign-in refused by the limits above: the owner learns of it in the audit log, once per
   * user and client (clientScope) per window, however often the guesser keeps knocking, so the log
   * cannot be grown by it. An email no user has is not noted (nothing to warn about, and a typed
   * mistake is not kept). Not a failure: it is not counted towards the limits.
   */
  async function noteLockedOut(email: string, client: string, ip: string): Promise<void> {
    // One note at a time per user and client in this process: refusals in quick succession
    // would otherwise each find none written yet.
    const pair = `${email} ${client}`;
    if (noting.has(pair)) return;
    noting.add(pair);
    try {
      await writeLockoutNote(email, client, ip);
    } catch (error) {
      deps.logger.warn({ err: error }, 'A refused sign-in could not be noted in the audit log');
    } finally {
      noting.delete(pair);
    }
  }

  async function writeLockoutNote(email: string, client: string, ip: string): Promise<void> {
    const noted = await db
      .selectFrom('audit_log')
      .select('id')
      .where('action', '=', 'session.sign_in_locked')
      .where('target_id', '=', email)
      .where('client', '=', client)
      .where('at', '>', isoAfter(-SIGN_IN_WINDOW_SECONDS))
      .limit(1)
      .executeTakeFirst();
    if (noted) return;
    await audit.record({
      actor: null,
      action: 'session.sign_in_locked',
      targetType: 'user',
      targetId: email,
      ip,
    });
  }

  /**
   * Whether the user signed in from `client` (clientScope: an IPv6 address's /64) within
   * KNOWN_CLIENT_DAYS. Guessing spread over many addresses locks an email out, but not from where
   * its user signs in: otherwise anyone who knows the owner's email could keep the owner out for
   * good. Per /64, not per address: IPv6 devices sign in from temporary addresses that change
   * daily (RFC 8981), so an exact address would seldom be known again. The /64 is what the other
   * limits already count as one client, so a guesser inside the user's /64 still gets only their
   * 5 guesses per 15 minutes.
   */
  async function signedInFrom(userId: string | undefined, client: string): Promise<boolean> {
    if (userId === undefined) return false;
    const row = await db
      .selectFrom('audit_log')
      .select('id')
      .where('target_id', '=', userId)
      .where('action', '=', 'session.sign_in')
      .where('at', '>', isoAfter(-KNOWN_CLIENT_DAYS * 86_400))
      .where('client', '=', client)
      .limit(1)
      .executeTakeFirst();
    return row !== undefined;
  }

  /**
   * Sets a user's password and ends their sessions but `keep`, in one transaction; with
   * `tokens.revoke`, their management tokens but `tokens.keep` go in it too, and every process
   * forgets them once it commits (as revokeToken does). How many of each ended.
   */
  async function replacePassword(
    userId: string,
    password: string,
    keep: { id: string; token: string; csrfToken: string } | undefined,
    tokens: { revoke: boolean; keep?: string },
  ): Promise<Ended> {
    const passwordHash = await hashPassword(password);
    const ended = await db.transaction().execute(async (trx) => {
      await trx.updateTable('owners').set({ password_hash: passwordHash }).where('id', '=', userId).execute();
      let sessions = trx.deleteFrom('sessions').where('user_id', '=', userId);
      if (keep !== undefined) sessions = sessions.where('id', '!=', keep.id);
      const sessionsEnded = Number((await sessions.executeTakeFirst()).numDeletedRows);
      const tokensRevoked = tokens.revoke ? await deleteUserTokens(trx, userId, tokens.keep) : 0;
      // The session kept gets a new cookie value and CSRF token: whoever copied the old one (the
      // reason to change a password, often) is out too.
      if (keep !== undefined) {
        await trx
          .updateTable('sessions')
          .set({ token_hash: sha256(keep.token), csrf_token: keep.csrfToken })
          .where('id', '=', keep.id)
          .execute();
      }
      return { sessions_ended: sessionsEnded, tokens_revoked: tokensRevoked };
    });
    if (ended.tokens_revoked > 0) deps.tokens.forgetRevokedTokens();
    return ended;
  }

  /**
   * A new session for `user`, made only while `checkedHash` (the password hash the sign-in or
   * invite was checked against, or just set) is still the user's: a sign-in racing a password
   * change cannot keep a session the change meant to end. Undefined if the password changed.
   */
  async function openSession(user: SessionOwner, checkedHash: string): Promise<OpenedSession | undefined> {
    const token = randomToken();
    const now = nowIso();
    const session: SessionUser = {
      sessionId: newId('session'),
      userId: user.id,
      email: user.email,
      role: user.role as Role,
      csrfToken: randomToken(),
      // Idle hours may be set above the maximum age (30 days of idle, 1 day at most): the lesser.
      expiresAt: isoAfter(Math.min(deps.sessions.idleHours * 3600, deps.sessions.maxDays * 86_400)),
    };
    // The user's row is updated (locked) only while its hash is the one checked: on PostgreSQL a
    // password change holding the row makes this wait for it, then find the new hash and make
    // nothing; SQLite has one writer at a time. A change after this waits for the session, and
    // ends it.
    const made = await db.transaction().execute(async (trx) => {
      const held = await trx
        .updateTable('owners')
        .set({ last_sign_in_at: now })
        .where('id', '=', user.id)
        .where('password_hash', '=', checkedHash)
        .executeTakeFirst();
      if (Number(held.numUpdatedRows) === 0) return false;
      await trx
        .insertInto('sessions')
        .values({
          id: session.sessionId,
          token_hash: sha256(token),
          csrf_token: session.csrfToken,
          user_id: user.id,
          created_at: now,
          last_seen_at: now,
          expires_at: session.expiresAt,
        })
        .execute();
      return true;
    });
    return made ? { token, session } : undefined;
  }

  return {
    async signIn(
      body: unknown,
      ip: string,
    ): Promise<{ token: string; session: SessionUser } | { error: ApiError }> {
      const input = parseSignIn(body);
      const email = input.email.trim().toLowerCase();
      // The attempt is written down as a failure before the password is checked, then counted
      // with the others: of any number of parallel attempts, at most the limit get their
      // password checked (counted after, each would see none of the others and all would pass).
      const attempt = await audit.record({
        actor: null,
        action: 'session.sign_in_failed',
        targetType: 'user',
        targetId: email,
        ip,
      });
      const forget = () => db.deleteFrom('audit_log').where('id', '=', attempt).execute();
      // Counted per client, as audit.record wrote it: an IPv6 client rotating addresses in its /64 is one.
      const client = clientScope(ip);
      const [byPair, byClient, byEmail, user] = await Promise.all([
        recentFailures({ target: email, client }),
        recentFailures({ client }),
        recentFailures({ target: email }),
        db.selectFrom('owners').selectAll().where('email', '=', email).executeTakeFirst(),
      ]);
      if (
        byPair > FAILURES_PER_EMAIL_AND_CLIENT ||
        byClient > FAILURES_PER_CLIENT ||
        (byEmail > FAILURES_PER_EMAIL && !(await signedInFrom(user?.id, client)))
      ) {
        // A refused attempt is not a failure: it does not extend the lockout.
        await forget();
        // Noted after the answer, not before it: its query and write would otherwise make the
        // refusal slower for an email a user has, telling a guesser which emails have accounts.
        if (user) setImmediate(() => noteLockedOut(email, client, ip));
        return {
          error: new ApiError('too_many_failed_attempts', {
            message: 'Too many failed sign-ins; try again in 15 minutes',
            headers: { 'retry-after': String(SIGN_IN_WINDOW_SECONDS) },
          }),
        };
      }
      // The same work whether or not the email exists, so timing does not tell which.
      const checked = await verifyPassword(input.password, user ? user.password_hash : DUMMY_HASH);
      const ok = user !== undefined && checked;
      if (!user || !ok) return { error: new ApiError('invalid_credentials') };
      await forget();
      const opened = await openSession(user, user.password_hash);
      // The password changed while this one was checked: as if it were wrong.
      if (!opened) return { error: new ApiError('invalid_credentials') };
      await audit.record({
        actor: { id: user.id, email: user.email },
        action: 'session.sign_in',
        targetType: 'user',
        targetId: user.id,
        ip,
      });
      return opened;
    },

    /**
     * A signed-in user changes their password: the current one first (wrong: 400 naming it; more
     * than PASSWORD_CHANGE_FAILURES wrong in the window: 429), then every other session of theirs
     * ends, and with `revoke_tokens` every management token of theirs but the one the call was
     * made with (none kept from a session). The session the change came from stays, renewed.
     */
    async changePassword(
      user: PasswordChanger,
      body: unknown,
      ip: string,
    ): Promise<UserJson & Ended & { session?: { token: string; csrf_token: string } }> {
      const input = parsePasswordChange(body);
      // Written down as a failure first, then counted, as sign-in does (parallel guesses too).
      const attempt = await audit.record({
        actor: { id: user.userId, email: user.email },
        action: 'user.password_change_failed',
        targetType: 'user',
        targetId: user.userId,
        ip,
      });
      const forget = () => db.deleteFrom('audit_log').where('id', '=', attempt).execute();
      if (
        (await recentFailures({ target: user.userId }, 'user.password_change_failed')) >
        PASSWORD_CHANGE_FAILURES
      ) {
        await forget();
        throw new ApiError('too_many_failed_attempts', {
          message: 'Too many wrong current passwords; try again in 15 minutes',
          headers: { 'retry-after': String(SIGN_IN_WINDOW_SECONDS) },
        });
      }
      const row = await db.selectFrom('owners').selectAll().where('id', '=', user.userId).executeTakeFirst();
      if (!row) throw new ApiError('unauthorized');
      if (!(await verifyPassword(input.current_password, row.password_hash))) {
        throw invalid('current_password', 'Is not your current password');
      }
      await forget();
      if (input.new_password === input.current_password) {
        throw invalid('new_password', 'Must differ from the current password');
      }
      const renewed =
        user.sessionId === undefined
          ? undefined
          : { id: user.sessionId, token: randomToken(), csrfToken: randomToken() };
      const ended = await replacePassword(row.id, input.new_password, renewed, {
        revoke: input.revoke_tokens === true,
        keep: user.tokenId,
      });
      await audit.record({
        actor: { id: row.id, email: row.email },
        action: 'user.password_change',
        targetType: 'user',
        targetId: row.id,
        details: ended,
        ip,
      });
      return {
        ...toUser(row),
        ...ended,
        ...(renewed ? { session: { token: renewed.token, csrf_token: renewed.csrfToken } } : {}),
      };
    },

    /**
     * `gatehouse reset-password`, run where the database is: a forgotten password replaced, and
     * every session and management token of that user ended: whoever learned the old password may
     * have signed in or run `gatehouse login` with it. `keepTokens` (`--keep-tokens`) spares the
     * tokens, for a password only forgotten.
     */
    async resetPassword(
      email: string,
      password: string,
      options: { keepTokens?: boolean } = {},
    ): Promise<UserJson & Ended> {
      const input = parseNewPassword({ password });
      const row = await db
        .selectFrom('owners')
        .selectAll()
        .where('email', '=', email.trim().toLowerCase())
        .executeTakeFirst();
      if (!row) throw new ApiError('not_found', { message: `No dashboard user has the email ${email}` });
      const ended = await replacePassword(row.id, input.password, undefined, {
        revoke: options.keepTokens !== true,
      });
      await audit.record({
        actor: null,
        action: 'user.password_reset',
        targetType: 'user',
        targetId: row.id,
        details: ended,
      });
      return { ...toUser(row), ...ended };
    },

    /** The session behind a cookie value, or null when unknown or expired. Slides the idle expiry. */
    async session(token: string): Promise<SessionUser | null> {
      const hash = sha256(token);
      const row = await db
        .selectFrom('sessions as s')
        .innerJoin('owners as o', 'o.id', 's.user_id')
        .select([
          's.id',
          's.token_hash',
          's.csrf_token',
          's.created_at',
          's.expires_at',
          'o.id as user_id',
          'o.email',
          'o.role',
        ])
        .where('s.token_hash', '=', hash)
        .executeTakeFirst();
      if (!row || !safeEqual(row.token_hash, hash)) return null;
      const now = Date.now();
      const hardLimit = Date.parse(row.created_at) + deps.sessions.maxDays * 86_400_000;
      // Past its maximum age a session ends even if stored with a later expiry (made before the
      // maximum was lowered): it is not let in once more.
      if (Date.parse(row.expires_at) <= now || hardLimit <= now) {
        await db.deleteFrom('sessions').where('id', '=', row.id).execute();
        return null;
      }
      let expiresAt = row.expires_at;
      if (now - (touched.get(row.id) ?? 0) > TOUCH_EVERY_MS) {
        touched.set(row.id, now);
        if (touched.size > 10_000) touched.clear();
        expiresAt = new Date(Math.min(hardLimit, now + deps.sessions.idleHours * 3_600_000)).toISOString();
        await db
          .updateTable('sessions')
          .set({ last_seen_at: new Date(now).toISOString(), expires_at: expiresAt })
          .where('id', '=', row.id)
          .execute();
      }
      return {
        sessionId: row.id,
        userId: row.user_id,
        email: row.email,
        role: row.role as Role,
        csrfToken: row.csrf_token,
        expiresAt,
      };
    },

    async signOut(sessionId: string): Promise<void> {
      await db.deleteFrom('sessions').where('id', '=', sessionId).execute();
      touched.delete(sessionId);
    },

    async createInvite(
      body: unknown,
      createdBy: string,
    ): Promise<{
      id: string;
      object: 'invite';
      email: string;
      token: string;
      expires_at: string;
      /** Pending invites to the same email that this one replaced (their links stop working). */
      replaced: string[];
    }> {
      const input = parseInvite(body);
      const email = input.email.toLowerCase();
      const token = randomToken();
      const invite = {
        id: newId('invite'),
        token_hash: sha256(token),
        email,
        role: 'collaborator',
        created_by: createdBy,
        created_at: nowIso(),
        expires_at: isoAfter((input.expires_in_hours ?? 72) * 3600),
        accepted_at: null,
      };
      // Inviting the same email again sends a new link: the older pending one stops working, so
      // one email has one pending invite and the owner's list one row for it. Invites sent at the
      // same moment take turns (the lock), so the last one wins and each answers 201; the unique
      // index invites_one_pending (migration 0017) keeps it so whatever else writes.
      const replaced = await db
        .transaction()
        .execute(async (trx) => {
          await lockInvitedEmail(trx, deps.dialect, email);
          // Deleting first: on SQLite this first write takes the write lock before anything is read.
          const older = await dropPendingInvites(trx, email);
          const existing = await trx
            .selectFrom('owners')
            .select('id')
            .where('email', '=', email)
            .executeTakeFirst();
          if (existing) throw userExists(email);
          await trx.insertInto('invites').values(invite).execute();
          return older;
        })
        .catch((error: unknown) => {
          // Only a writer that skips the lock (a process of an older release during an upgrade)
          // can have added a pending invite in between.
          if (deps.dialect.isUniqueViolation(error)) {
            throw new ApiError('conflict', {
              message: `Another invite to ${email} was sent at the same moment; send this one again to replace it`,
            });
          }
          throw error;
        });
      return { id: invite.id, object: 'invite', email, token, expires_at: invite.expires_at, replaced };
    },

    async listInvites() {
      const rows = await db
        .selectFrom('invites')
        .select(['id', 'email', 'role', 'created_at', 'expires_at'])
        .where('accepted_at', 'is', null)
        .where('expires_at', '>', nowIso())
        .orderBy('created_at', 'desc')
        .execute();
      return rows.map((row) => ({ ...row, object: 'invite' as const }));
    },

    /** Withdraws a pending invite: the email it was sent to (for the audit entry). */
    async deleteInvite(id: string): Promise<{ email: string }> {
      const deleted = await db
        .deleteFrom('invites')
        .where('id', '=', id)
        .where('accepted_at', 'is', null)
        .returning('email')
        .executeTakeFirst();
      if (!deleted) throw new ApiError('invite_not_found');
      return deleted;
    },

    lookupInvite,

    /** Makes the collaborator (single use: the invite is marked accepted in the same transaction). */
    async acceptInvite(body: unknown, ip: string): Promise<{ token: string; session: SessionUser }> {
      const input = parseAccept(body);
      // A token that opens nothing is refused before the (deliberately slow) password hash, so
      // guesses cost the server a lookup, not a hash; the claim below decides races.
      const { email } = await lookupInvite(input.token);
      const passwordHash = await hashPassword(input.password);
      const now = nowIso();
      const user = await db.transaction().execute(async (trx) => {
        // Before the claim locks the invite's row (the order createInvite takes them in): a
        // re-invite sent meanwhile waits, then finds the user and is refused rather than left pending.
        await lockInvitedEmail(trx, deps.dialect, email);
        const claimed = await trx
          .updateTable('invites')
          .set({ accepted_at: now })
          .where('token_hash', '=', sha256(input.token))
          .where('accepted_at', 'is', null)
          .where('expires_at', '>', now)
          .returning(['id', 'email', 'role'])
          .executeTakeFirst();
        if (!claimed) throw new ApiError('invite_not_found');
        const taken = await trx
          .selectFrom('owners')
          .select('id')
          .where('email', '=', claimed.email)
          .executeTakeFirst();
        if (taken) throw userExists(claimed.email);
        const created = { id: newId('owner'), email: claimed.email, role: claimed.role };
        await trx
          .insertInto('owners')
          .values({ ...created, password_hash: passwordHash, created_at: now, last_sign_in_at: null })
          .execute();
        // Other invites sent to this email can no longer be accepted (the user exists): they are
        // no longer pending, so they leave the owner's list instead of staying until they expire.
        await dropPendingInvites(trx, claimed.email);
        return { ...created, inviteId: claimed.id };
      });
      await audit.record({
        actor: { id: user.id, email: user.email },
        action: 'invite.accept',
        targetType: 'invite',
        targetId: user.inviteId,
        ip,
      });
      const opened = await openSession(user, passwordHash);
      // Reset (`gatehouse reset-password`) in the moment since: the user signs in with the new one.
      if (!opened) throw new ApiError('invalid_credentials');
      return opened;
    },

    async listUsers(): Promise<UserJson[]> {
      const rows = await db
        .selectFrom('owners')
        .select(['id', 'email', 'role', 'created_at', 'last_sign_in_at'])
        .orderBy('created_at')
        .execute();
      return rows.map(toUser);
    },

    /**
     * Removes a collaborator with their sessions and management tokens (how many of each went, for
     * the audit entry), and with `also` (the caller revokes their keys) in the same transaction.
     */
    async removeCollaborator<T>(
      id: string,
      /** More to undo in the same transaction, the user's row held (their keys: routes.ts). */
      also: (trx: Transaction<Database>) => Promise<T>,
    ): Promise<{ user: UserJson; ended: Ended; also: T }> {
      const row = await db
        .selectFrom('owners')
        .select(['id', 'email', 'role', 'created_at', 'last_sign_in_at'])
        .where('id', '=', id)
        .executeTakeFirst();
      if (row?.role !== 'collaborator') {
        throw new ApiError('not_found', { message: `No collaborator has the id "${id}"` });
      }
      const { ended, more } = await db.transaction().execute(async (trx) => {
        // Held first: a key or token being made for them waits, and then finds them gone.
        if (!(await lockRow(trx, 'owners', 'id', id))) {
          throw new ApiError('not_found', { message: `No collaborator has the id "${id}"` });
        }
        const sessions = await trx.deleteFrom('sessions').where('user_id', '=', id).executeTakeFirst();
        const tokensRevoked = await deleteUserTokens(trx, id);
        const more = await also(trx);
        await trx.deleteFrom('owners').where('id', '=', id).execute();
        return {
          ended: { sessions_ended: Number(sessions.numDeletedRows), tokens_revoked: tokensRevoked },
          more,
        };
      });
      return { user: toUser(row), ended, also: more };
    },
  };
}

/** A valid scrypt hash of a random password, verified against when the email is unknown. */
const DUMMY_HASH = await hashPassword(randomBytes(16).toString('hex'));
