import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { OwnerService, Principal } from '../accounts/owner-service.ts';
import { ApiError } from '../errors.ts';
import { filled } from '../http/auth.ts';
import { sentTwice } from '../http/single-header.ts';
import { safeEqual } from '../infra/crypto/hash.ts';
import type { UserService } from './user-service.ts';

export const SESSION_COOKIE = 'gatehouse_session';
/**
 * The cookie's name over HTTPS: a browser takes a `__Host-` cookie only from this very host,
 * over HTTPS, without a Domain, so neither a sibling subdomain nor a plain-HTTP answer can plant
 * one in its place (and sign a user into someone else's session).
 */
export const SECURE_SESSION_COOKIE = `__Host-${SESSION_COOKIE}`;

export function sessionCookieName(request: FastifyRequest): string {
  return request.protocol === 'https' ? SECURE_SESSION_COOKIE : SESSION_COOKIE;
}

/**
 * Who may call each management route: `public` (no credentials: sign-in, setup, invites),
 * `collaborator` (owners and collaborators; the handler scopes what a collaborator sees) or
 * `owner`. Every route is named here: a route without a rule is served as owner only (closed
 * until opened) and fails the access test (test/dashboard-api.test.ts), so it cannot ship unnoticed.
 */
export type Access = 'public' | 'collaborator' | 'owner';

export const ROUTE_ACCESS: Readonly<Record<string, Access>> = {
  'GET /admin/v1/setup': 'public',
  'POST /admin/v1/session': 'public',
  'GET /admin/v1/invites/lookup': 'public',
  'POST /admin/v1/invites/accept': 'public',

  'GET /admin/v1/session': 'collaborator',
  'DELETE /admin/v1/session': 'collaborator',
  // Each user's own password.
  'PUT /admin/v1/account/password': 'collaborator',
  'GET /admin/v1/endpoints': 'collaborator',
  'GET /admin/v1/endpoints/:slug': 'collaborator',
  'GET /admin/v1/endpoints/:slug/versions': 'collaborator',
  'GET /admin/v1/openapi.json': 'collaborator',
  // Keys: collaborators create test keys and manage only their own (see keys/routes.ts).
  'POST /admin/v1/keys': 'collaborator',
  'GET /admin/v1/keys': 'collaborator',
  'GET /admin/v1/keys/:id': 'collaborator',
  'PATCH /admin/v1/keys/:id': 'collaborator',
  'POST /admin/v1/keys/:id/deactivate': 'collaborator',
  'POST /admin/v1/keys/:id/activate': 'collaborator',
  'POST /admin/v1/keys/:id/revoke': 'collaborator',
  'POST /admin/v1/keys/:id/roll': 'collaborator',
  // Deliveries caused by the collaborator's own keys (see webhooks/routes.ts).
  'GET /admin/v1/deliveries': 'collaborator',
  'GET /admin/v1/deliveries/:id': 'collaborator',
  'POST /admin/v1/deliveries/:id/redeliver': 'collaborator',
  'POST /admin/v1/test-requests': 'collaborator',
  // Each user's own management tokens.
  'GET /admin/v1/tokens': 'collaborator',
  'POST /admin/v1/tokens': 'collaborator',
  'DELETE /admin/v1/tokens/:id': 'collaborator',
  'GET /admin/v1/test-requests': 'collaborator',

  // Owner only: settings, live data, other people's work, installation secrets.
  'POST /admin/v1/endpoints': 'owner',
  'PATCH /admin/v1/endpoints/:slug': 'owner',
  'DELETE /admin/v1/endpoints/:slug': 'owner',
  'POST /admin/v1/endpoints/:slug/deploy': 'owner',
  'POST /admin/v1/endpoints/:slug/import': 'owner',
  'GET /admin/v1/endpoints/:slug/export': 'owner',
  'POST /admin/v1/endpoints/:slug/webhooks': 'owner',
  'GET /admin/v1/endpoints/:slug/webhooks': 'owner',
  'GET /admin/v1/webhooks': 'owner',
  'GET /admin/v1/webhooks/:id': 'owner',
  'PATCH /admin/v1/webhooks/:id': 'owner',
  'DELETE /admin/v1/webhooks/:id': 'owner',
  'POST /admin/v1/webhooks/:id/rotate-secret': 'owner',
  'GET /admin/v1/webhook-signing-secret': 'owner',
  // Also a collaborator's own key's: the owner decides which partner gets it.
  'GET /admin/v1/keys/:id/callback-signing-secret': 'owner',
  'POST /admin/v1/keys/:id/rotate-callback-secret': 'owner',
  'GET /admin/v1/usage': 'owner',
  'POST /admin/v1/tokens/rotate-signing-key': 'owner',
  'GET /admin/v1/console/:slug/records': 'owner',
  'GET /admin/v1/console/:slug/records/:id': 'owner',
  'POST /admin/v1/console/:slug/records': 'owner',
  'PUT /admin/v1/console/:slug/records/:id': 'owner',
  'DELETE /admin/v1/console/:slug/records/:id': 'owner',
  'POST /admin/v1/invites': 'owner',
  'GET /admin/v1/invites': 'owner',
  'DELETE /admin/v1/invites/:id': 'owner',
  'GET /admin/v1/collaborators': 'owner',
  'DELETE /admin/v1/collaborators/:id': 'owner',
  'GET /admin/v1/audit': 'owner',
  'POST /admin/v1/apps': 'owner',
  'GET /admin/v1/apps': 'owner',
  'GET /admin/v1/apps/:slug': 'owner',
  'PATCH /admin/v1/apps/:slug': 'owner',
  'DELETE /admin/v1/apps/:slug': 'owner',
  'POST /admin/v1/apps/:slug/deploy': 'owner',
  'GET /admin/v1/apps/:slug/versions': 'owner',
};

declare module 'fastify' {
  interface FastifyContextConfig {
    access?: Access;
  }
}

/** The route's rule; undefined when it has none (served as owner only). */
export function ruleOf(method: string, url: string): Access | undefined {
  return ROUTE_ACCESS[`${method} ${url}`];
}

export function accessOf(method: string, url: string): Access {
  return ruleOf(method, url) ?? 'owner';
}

export function isOwner(principal: Principal): boolean {
  return principal.role === 'owner';
}

/** Reads one cookie from the Cookie header (no plugin needed for a single value). */
export function cookieValue(request: FastifyRequest, name: string): string | undefined {
  const header = request.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) {
      try {
        return decodeURIComponent(part.slice(eq + 1).trim());
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}

/**
 * Management authentication and the per-route access rule. A `gm_…` bearer token (the CLI) or
 * the dashboard's session cookie; with the cookie, every state-changing call must carry the
 * session's CSRF token in `X-CSRF-Token`. Then the route's access rule is applied.
 */
export function registerManagementAccess(
  app: FastifyInstance,
  deps: { owners: OwnerService; users: UserService },
): void {
  app.addHook('onRoute', (route) => {
    const methods = [route.method].flat();
    // HEAD routes (Fastify adds one per GET) take their GET's rule.
    const access = methods.map((m) => accessOf(m === 'HEAD' ? 'GET' : m, route.url));
    route.config = { ...route.config, access: access.includes('owner') ? 'owner' : access[0] };
  });

  app.addHook('onRequest', async (request) => {
    const access = request.routeOptions.config?.access ?? 'owner';
    if (access === 'public') return;
    // Sent twice (blank or not), as on the data API, it is refused: Node keeps the first, and a
    // proxy that read the other one would have authorized someone else.
    if (sentTwice(request, 'authorization')) {
      throw new ApiError('unauthorized', {
        message: 'Management API: send one "Authorization: Bearer gm_…" header, once',
      });
    }
    // A blank Authorization is no credential, as on the data API: the session cookie decides.
    const authorization = filled(request.headers.authorization);
    if (authorization !== undefined) {
      const match = /^Bearer[ ]+(\S+)\s*$/i.exec(authorization);
      if (!match?.[1]) {
        throw new ApiError('unauthorized', { message: 'Management API: send "Authorization: Bearer gm_…"' });
      }
      request.principal = await deps.owners.verifyToken(match[1]);
    } else {
      const cookie = cookieValue(request, sessionCookieName(request));
      const session = cookie ? await deps.users.session(cookie) : null;
      if (!session) {
        throw new ApiError('unauthorized', {
          message: 'Sign in to the dashboard, or send "Authorization: Bearer gm_…"',
        });
      }
      if (request.method !== 'GET' && request.method !== 'HEAD' && request.method !== 'OPTIONS') {
        const sent = request.headers['x-csrf-token'];
        if (typeof sent !== 'string' || !safeEqual(sent, session.csrfToken)) {
          throw new ApiError('csrf_failed');
        }
      }
      request.principal = {
        userId: session.userId,
        role: session.role,
        email: session.email,
        sessionId: session.sessionId,
      };
      request.session = session;
    }
    if (access === 'owner' && !isOwner(request.principal)) {
      throw new ApiError('forbidden', { message: 'Only the owner may do this' });
    }
  });
}

declare module 'fastify' {
  interface FastifyRequest {
    session?: import('./user-service.ts').SessionUser;
  }
}
