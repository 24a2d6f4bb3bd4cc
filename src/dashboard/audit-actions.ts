/**
 * What the audit log records, by name. Import-free: the dashboard's audit filter
 * (web/src/pages/audit.tsx) offers these same names.
 */

/**
 * Management calls that change something, by route, and the action they are logged as
 * (src/dashboard/audit.ts logs them from a hook).
 */
export const ROUTE_ACTIONS = {
  'POST /admin/v1/endpoints': 'endpoint.create',
  'PATCH /admin/v1/endpoints/:slug': 'endpoint.update',
  'DELETE /admin/v1/endpoints/:slug': 'endpoint.delete',
  'POST /admin/v1/endpoints/:slug/deploy': 'endpoint.deploy',
  'POST /admin/v1/endpoints/:slug/import': 'endpoint.import',
  'POST /admin/v1/keys': 'key.create',
  'PATCH /admin/v1/keys/:id': 'key.update',
  'POST /admin/v1/keys/:id/deactivate': 'key.deactivate',
  'POST /admin/v1/keys/:id/activate': 'key.activate',
  'POST /admin/v1/keys/:id/revoke': 'key.revoke',
  'POST /admin/v1/keys/:id/roll': 'key.roll',
  'POST /admin/v1/keys/:id/rotate-callback-secret': 'key.rotate_callback_secret',
  'POST /admin/v1/endpoints/:slug/webhooks': 'webhook.create',
  'PATCH /admin/v1/webhooks/:id': 'webhook.update',
  'DELETE /admin/v1/webhooks/:id': 'webhook.delete',
  'POST /admin/v1/webhooks/:id/rotate-secret': 'webhook.rotate_secret',
  'POST /admin/v1/deliveries/:id/redeliver': 'delivery.redeliver',
  'POST /admin/v1/console/:slug/records': 'console.create',
  'PUT /admin/v1/console/:slug/records/:id': 'console.replace',
  'DELETE /admin/v1/console/:slug/records/:id': 'console.delete',
  'POST /admin/v1/invites': 'invite.create',
  'DELETE /admin/v1/invites/:id': 'invite.delete',
  'DELETE /admin/v1/collaborators/:id': 'collaborator.delete',
  'POST /admin/v1/tokens/rotate-signing-key': 'token.rotate_signing_key',
  'POST /admin/v1/tokens': 'token.create',
  'DELETE /admin/v1/tokens/:id': 'token.revoke',
  'POST /admin/v1/apps': 'app.create',
  'PATCH /admin/v1/apps/:slug': 'app.update',
  'DELETE /admin/v1/apps/:slug': 'app.delete',
  'POST /admin/v1/apps/:slug/deploy': 'app.deploy',
} as const;

/** What the session and account code logs itself, beside ROUTE_ACTIONS. */
export const SELF_LOGGED_ACTIONS = [
  'session.sign_in',
  'session.sign_in_failed',
  'session.sign_in_locked',
  'session.sign_out',
  'user.password_change',
  'user.password_change_failed',
  'user.password_reset',
  'invite.accept',
] as const;

export type AuditAction =
  | (typeof ROUTE_ACTIONS)[keyof typeof ROUTE_ACTIONS]
  | (typeof SELF_LOGGED_ACTIONS)[number];

const named: AuditAction[] = [...new Set([...SELF_LOGGED_ACTIONS, ...Object.values(ROUTE_ACTIONS)])];
const kindOf = (action: string) => action.split('.')[0] ?? action;

/** The kinds of action (`session`, `user`, `key`…): what comes before the dot, in first-seen order. */
export const AUDIT_KINDS: readonly string[] = [...new Set(named.map(kindOf))];

/** Every action the log records, those of a kind together (`session.*`, `user.*`, `invite.*`…). */
export const AUDIT_ACTIONS: readonly AuditAction[] = AUDIT_KINDS.flatMap((kind) =>
  named.filter((action) => kindOf(action) === kind),
);
