import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { OwnerService } from '../accounts/owner-service.ts';
import { ApiError } from '../errors.ts';
import type { KeyService } from '../keys/key-service.ts';
import { sessionCookieName } from './access.ts';
import { AUDIT_QUERY, type AuditLog } from './audit.ts';
import type { SessionUser, UserService } from './user-service.ts';

type IdParams = { id: string };

/** Asks for the password in the terminal (not echoed), so none lands in the shell's history. */
export const INIT_COMMAND = 'npx gatehouse init --email you@example.com';

function sessionJson(session: SessionUser) {
  return {
    object: 'session' as const,
    user: { id: session.userId, email: session.email, role: session.role },
    csrf_token: session.csrfToken,
    expires_at: session.expiresAt,
  };
}

/**
 * The cookie: HttpOnly, SameSite=Strict; over HTTPS Secure too, and named with the `__Host-`
 * prefix (access.ts).
 */
function setSessionCookie(request: FastifyRequest, reply: FastifyReply, token: string | null): void {
  const secure = request.protocol === 'https' ? '; Secure' : '';
  const value = token === null ? '' : encodeURIComponent(token);
  const age = token === null ? '; Max-Age=0' : '';
  reply.header(
    'set-cookie',
    `${sessionCookieName(request)}=${value}; Path=/; HttpOnly; SameSite=Strict${secure}${age}`,
  );
}

/** The dashboard session the call came with; 401 for a management token, which has none. */
function cookieSession(request: FastifyRequest): SessionUser {
  if (!request.session) {
    throw new ApiError('unauthorized', { message: 'No dashboard session (this call needs the cookie)' });
  }
  return request.session;
}

/** Sign-in and sessions, invites, collaborators and the audit log (docs/dashboard.md). */
export function registerDashboardRoutes(
  app: FastifyInstance,
  deps: { owners: OwnerService; users: UserService; audit: AuditLog; keys: KeyService },
): void {
  const { users, audit } = deps;

  app.get('/admin/v1/setup', async () => ({
    success: true,
    data: { object: 'setup', initialized: await deps.owners.hasOwner(), init_command: INIT_COMMAND },
  }));

  app.post('/admin/v1/session', async (request, reply) => {
    const result = await users.signIn(request.body, request.ip);
    if ('error' in result) throw result.error;
    setSessionCookie(request, reply, result.token);
    return { success: true, data: sessionJson(result.session) };
  });

  app.get('/admin/v1/session', async (request) => {
    return { success: true, data: sessionJson(cookieSession(request)) };
  });

  app.delete('/admin/v1/session', async (request, reply) => {
    // A management token has no session to end: answered as GET does, not "signed out" (nor so
    // logged) while nothing ended. A leaked token is revoked with DELETE /admin/v1/tokens/:id.
    cookieSession(request);
    const principal = request.principal;
    if (principal.sessionId) await users.signOut(principal.sessionId);
    await audit.record({
      actor: { id: principal.userId, email: principal.email ?? null },
      action: 'session.sign_out',
      targetType: 'user',
      targetId: principal.userId,
      ip: request.ip,
    });
    setSessionCookie(request, reply, null);
    return { success: true, data: { object: 'session', signed_out: true } };
  });

  // Your own password (session or management token): the other sessions end, and with
  // revoke_tokens the other management tokens (docs/dashboard.md).
  app.put('/admin/v1/account/password', async (request, reply) => {
    const { principal } = request;
    const { session, ...user } = await users.changePassword(
      {
        userId: principal.userId,
        email: principal.email ?? null,
        sessionId: principal.sessionId,
        tokenId: principal.tokenId,
      },
      request.body,
      request.ip,
    );
    // The calling session stays, under a new cookie value and CSRF token.
    if (session) setSessionCookie(request, reply, session.token);
    return { success: true, data: session ? { ...user, csrf_token: session.csrf_token } : user };
  });

  app.post('/admin/v1/invites', async (request, reply) => {
    const invite = await users.createInvite(request.body, request.principal.userId);
    const origin = `${request.protocol}://${request.host}`;
    const { token, replaced, ...rest } = invite;
    // Whom it was sent to: the invite's id alone names nothing once it is accepted or withdrawn;
    // and the older invites to that email whose links stopped working.
    request.auditDetails = replaced.length > 0 ? { email: invite.email, replaced } : { email: invite.email };
    return reply.code(201).send({
      success: true,
      data: { ...rest, url: `${origin}/#/invite/${token}` },
    });
  });
  app.get('/admin/v1/invites', async () => ({ success: true, data: await users.listInvites() }));
  app.delete<{ Params: IdParams }>('/admin/v1/invites/:id', async (request) => {
    request.auditDetails = await users.deleteInvite(request.params.id);
    return { success: true, data: { id: request.params.id, deleted: true } };
  });
  app.get<{ Querystring: { token?: string } }>(
    '/admin/v1/invites/lookup',
    { config: { query: { token: "The invite's token (from its URL)" } } },
    async (request) => {
      const token = request.query.token;
      if (typeof token !== 'string' || token === '') throw new ApiError('invite_not_found');
      return { success: true, data: { object: 'invite', ...(await users.lookupInvite(token)) } };
    },
  );
  app.post('/admin/v1/invites/accept', async (request, reply) => {
    const { token, session } = await users.acceptInvite(request.body, request.ip);
    setSessionCookie(request, reply, token);
    return reply.code(201).send({ success: true, data: sessionJson(session) });
  });

  app.get('/admin/v1/collaborators', async () => ({ success: true, data: await users.listUsers() }));
  app.delete<{ Params: IdParams }>('/admin/v1/collaborators/:id', async (request) => {
    // Their keys are revoked with them, in one transaction: a removed person keeps no access,
    // whatever they were making at the time, and a crash midway leaves all of it or none.
    const {
      user: removed,
      ended,
      also: revoked,
    } = await users.removeCollaborator(request.params.id, (trx) =>
      deps.keys.revokeCreatedBy(trx, request.params.id),
    );
    // No cached copy of their management tokens or keys may still let them in.
    deps.owners.forgetRevokedTokens();
    deps.keys.forget(revoked);
    // The log keeps who it was (the id no longer names anyone) and what they lost.
    request.auditDetails = { email: removed.email, ...ended, keys_revoked: revoked.length };
    return { success: true, data: { ...removed, deleted: true } };
  });

  app.get('/admin/v1/audit', { config: { query: AUDIT_QUERY } }, async (request) => {
    const page = await audit.list(request.query as Record<string, unknown>);
    return { success: true, data: page.data, meta: { next_cursor: page.next_cursor, limit: page.limit } };
  });
}
