/**
 * The management API's answers about people and access: setup, sessions, your password, invites,
 * collaborators, management tokens, the audit log, and the test page's requests.
 */
import {
  deleted,
  extended,
  id,
  type Json,
  many,
  maybeTime,
  object,
  one,
  page,
  role,
  shownOnce,
  time,
} from './openapi-admin-shapes.ts';
import { successContent } from './openapi-shared.ts';

const sessionUser = object({ id: id('owner'), email: { type: 'string' }, role });

const session = object({
  object: { const: 'session' },
  user: sessionUser,
  csrf_token: {
    type: 'string',
    description: 'Send as X-CSRF-Token on every call but GET made with the cookie',
  },
  expires_at: time,
});

const user = object({
  id: id('owner'),
  object: { const: 'user' },
  email: { type: 'string' },
  role,
  created_at: time,
  last_sign_in_at: maybeTime('null: never signed in'),
});

const managementToken = object({
  id: id('token'),
  object: { const: 'management_token' },
  name: { type: 'string' },
  created_at: time,
  last_used_at: maybeTime('When it was last used (to within the last few seconds); null: never'),
  current: { type: 'boolean', description: 'The token this call was made with' },
});

const invite = object({
  id: id('invite'),
  object: { const: 'invite' },
  email: { type: 'string' },
  role,
  created_at: time,
  expires_at: time,
});

const auditEntry = object({
  id: id('audit'),
  object: { const: 'audit_entry' },
  at: time,
  actor: {
    ...object({ id: { type: 'string' }, email: { type: ['string', 'null'] } }),
    type: ['object', 'null'],
    description: 'Who acted; null when nobody was signed in (a failed sign-in, a reset from the CLI)',
  },
  action: {
    type: 'string',
    examples: ['key.create', 'session.sign_in'],
    description: '<target type>.<verb>',
  },
  target_type: { type: ['string', 'null'] },
  target_id: { type: ['string', 'null'] },
  details: { type: ['object', 'null'], description: 'What else the action recorded, by action' },
  ip: { type: ['string', 'null'] },
});

const headerMap = (description: string): Json => ({
  type: 'object',
  additionalProperties: { type: ['string', 'number', 'array'], items: { type: 'string' } },
  description,
});

const testRequest = object({
  id: id('testRequest'),
  object: { const: 'test_request' },
  key_id: id('key'),
  method: { enum: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] },
  path: { type: 'string' },
  request: object({
    headers: {
      type: 'object',
      additionalProperties: { type: 'string' },
      description: 'The headers sent, credential values replaced by [redacted]',
    },
    body: { description: 'The body sent (its text where JSON would not give its numbers back); null: none' },
  }),
  status: { type: 'integer' },
  headers: headerMap('The response headers'),
  body: { description: 'The response body: JSON, or its text (cut at 64 KiB)' },
  duration_ms: {
    type: 'integer',
    minimum: 0,
    description: 'How long the answer took, in whole milliseconds',
  },
  curl: {
    type: 'string',
    description: 'The same request as a curl command, with $GATEHOUSE_KEY for the key',
  },
  created_at: time,
});

/** Accounts: the named shapes, for `components.schemas`. */
export const accountSchemas: Record<string, Json> = {
  Session: session,
  User: user,
  PasswordChange: extended(
    user,
    {
      sessions_ended: { type: 'integer', minimum: 0, description: 'Your other dashboard sessions, ended' },
      tokens_revoked: {
        type: 'integer',
        minimum: 0,
        description: 'With revoke_tokens: true, your management tokens but the calling one, revoked',
      },
      csrf_token: {
        type: 'string',
        description:
          'Sent when the call came with a dashboard session: it stays, under a new cookie value and this new CSRF token',
      },
    },
    'You, and what the change ended',
    ['csrf_token'],
  ),
  Token: managementToken,
  NewToken: extended(
    managementToken,
    { token: { type: 'string', pattern: '^gm_', description: shownOnce('The token itself (gm_…)') } },
    'The token made, with its secret',
  ),
  RevokedToken: extended(managementToken, { revoked: { const: true } }, 'The token revoked'),
  RemovedUser: extended(
    user,
    { deleted: { const: true } },
    'The collaborator removed (their sessions and management tokens went with them, their keys are revoked)',
  ),
  Invite: invite,
  AuditEntry: auditEntry,
  TestRequest: testRequest,
};

/** Accounts: each operation's success content, by `METHOD /path`. */
export const accountResponses: Record<string, Json> = {
  'POST /admin/v1/test-requests': one('TestRequest'),
  'GET /admin/v1/test-requests': many('TestRequest', 'Yours, newest first'),
  'GET /admin/v1/tokens': many('Token', 'Yours, oldest first'),
  'POST /admin/v1/tokens': one('NewToken'),
  'DELETE /admin/v1/tokens/{id}': one('RevokedToken'),
  'POST /admin/v1/tokens/rotate-signing-key': successContent(
    object({
      kid: { type: 'string', description: 'The new signing key’s id (the kid of tokens minted from now on)' },
      keys: { type: 'integer', minimum: 1, description: 'Signing keys kept, the new one included' },
    }),
  ),
  'GET /admin/v1/setup': successContent(
    object({
      object: { const: 'setup' },
      initialized: { type: 'boolean', description: 'Whether an owner exists' },
      init_command: { type: 'string', description: 'What makes the first owner, where none exists' },
    }),
  ),
  'POST /admin/v1/session': one('Session'),
  'GET /admin/v1/session': one('Session'),
  'DELETE /admin/v1/session': successContent(
    object({ object: { const: 'session' }, signed_out: { const: true } }),
  ),
  'PUT /admin/v1/account/password': one('PasswordChange'),
  'POST /admin/v1/invites': successContent(
    object({
      id: { type: 'string', pattern: '^inv_' },
      object: { const: 'invite' },
      email: { type: 'string' },
      expires_at: { type: 'string', format: 'date-time' },
      url: {
        type: 'string',
        description: 'The dashboard page that accepts it: send it to the person. Shown in this answer only',
      },
    }),
  ),
  'GET /admin/v1/invites': many('Invite', 'Pending invites, newest first'),
  'DELETE /admin/v1/invites/{id}': successContent(deleted('id')),
  'GET /admin/v1/invites/lookup': successContent(
    object({
      object: { const: 'invite' },
      email: { type: 'string' },
      expires_at: { type: 'string', format: 'date-time' },
    }),
  ),
  'POST /admin/v1/invites/accept': one('Session'),
  'GET /admin/v1/collaborators': many('User', 'The owner and collaborators, oldest first'),
  'DELETE /admin/v1/collaborators/{id}': one('RemovedUser'),
  'GET /admin/v1/audit': page('AuditEntry', 'Newest first'),
};
