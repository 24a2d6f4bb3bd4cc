import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runGatehouse } from './helpers/process.ts';
import { type ApiResponse, startTestServer, TEST_OWNER, type TestServer } from './helpers/server.ts';

/** An owner setting up a team: invite, accept, work, removal; sessions and tokens along the way. */
describe('accounts walk (sqlite)', () => {
  let server: TestServer;

  before(async () => {
    server = await startTestServer('sqlite');
  });
  after(() => server.close());

  /** A dashboard session: the cookie and its CSRF token, as the browser sends them. */
  function session(res: ApiResponse) {
    const match = /gatehouse_session=([^;]*)/.exec(res.headers.get('set-cookie') ?? '');
    assert.ok(match?.[1], res.text);
    const headers = { cookie: `gatehouse_session=${match[1]}`, 'x-csrf-token': res.body.data.csrf_token };
    return (method: string, path: string, json?: unknown) => server.request(method, path, { json, headers });
  }

  async function invited(email: string, password: string) {
    const invite = await server.admin('POST', '/admin/v1/invites', { email });
    assert.equal(invite.status, 201, invite.text);
    const token = new URL(invite.body.data.url).hash.replace('#/invite/', '');
    const accepted = await server.request('POST', '/admin/v1/invites/accept', { json: { token, password } });
    assert.equal(accepted.status, 201, accepted.text);
    return { call: session(accepted), id: accepted.body.data.user.id as string };
  }

  async function auditOf(action: string) {
    const res = await server.admin('GET', `/admin/v1/audit?action=${action}`);
    assert.equal(res.status, 200, res.text);
    return res.body.data as Array<{ target_id: string; details: unknown; actor: { email: string } }>;
  }

  test('a management token has no session to sign out: refused, and no sign-out is logged', async () => {
    const res = await server.admin('DELETE', '/admin/v1/session');
    assert.equal(res.status, 401, res.text);
    assert.equal(res.body.code, 'unauthorized');
    assert.equal(res.body.error, 'No dashboard session (this call needs the cookie)');
    assert.deepEqual(await auditOf('session.sign_out'), []);
    // The token still works: nothing was ended.
    assert.equal((await server.admin('GET', '/admin/v1/tokens')).status, 200);

    // With the cookie, signing out still works and is logged.
    const signedIn = await server.request('POST', '/admin/v1/session', { json: TEST_OWNER });
    const out = await session(signedIn)('DELETE', '/admin/v1/session');
    assert.equal(out.status, 200, out.text);
    assert.deepEqual(out.body.data, { object: 'session', signed_out: true });
    assert.equal((await auditOf('session.sign_out')).length, 1);
  });

  test('an audit filter on an action the log never records is refused, not answered empty', async () => {
    for (const action of ['key.revoked', 'keys', 'Key']) {
      const res = await server.admin('GET', `/admin/v1/audit?action=${action}`);
      assert.equal(res.status, 400, `${action}: ${res.text}`);
      assert.deepEqual(res.body.details, [
        {
          field: 'action',
          error:
            'Not an action the log records: give one (key.revoke) or a kind: app, collaborator, console, delivery, endpoint, invite, key, session, token, user, webhook',
        },
      ]);
    }
    // Known actions and kinds still filter.
    assert.equal((await server.admin('GET', '/admin/v1/audit?action=session.sign_in_failed')).status, 200);
    assert.equal((await server.admin('GET', '/admin/v1/audit?action=invite')).status, 200);
  });

  test('an invite made and withdrawn is logged with the email it was sent to', async () => {
    const invite = await server.admin('POST', '/admin/v1/invites', { email: 'Erin@Example.com' });
    assert.equal(invite.status, 201, invite.text);
    const withdrawn = await server.admin('DELETE', `/admin/v1/invites/${invite.body.data.id}`);
    assert.equal(withdrawn.status, 200, withdrawn.text);
    const [made] = await auditOf('invite.create');
    assert.equal(made?.target_id, invite.body.data.id);
    assert.deepEqual(made?.details, { email: 'erin@example.com' });
    const [deleted] = await auditOf('invite.delete');
    assert.equal(deleted?.target_id, invite.body.data.id);
    assert.deepEqual(deleted?.details, { email: 'erin@example.com' });
    // Nothing of the invite's secret link went into the log.
    const token = new URL(invite.body.data.url).hash.replace('#/invite/', '');
    const log = await server.admin('GET', '/admin/v1/audit?limit=200');
    assert.equal(log.text.includes(token), false);
  });

  test('inviting the same email again replaces the pending invite: one row, and the old link stops working', async () => {
    const first = await server.admin('POST', '/admin/v1/invites', { email: 'Fay@Example.com' });
    assert.equal(first.status, 201, first.text);
    const second = await server.admin('POST', '/admin/v1/invites', { email: 'fay@example.com' });
    assert.equal(second.status, 201, second.text);
    // The answer is the new invite alone (the replaced ids are the audit entry's).
    assert.deepEqual(Object.keys(second.body.data).sort(), ['email', 'expires_at', 'id', 'object', 'url']);
    const pending = await server.admin('GET', '/admin/v1/invites');
    const fays = (pending.body.data as Array<{ id: string; email: string }>).filter(
      (invite) => invite.email === 'fay@example.com',
    );
    assert.deepEqual(
      fays.map((invite) => invite.id),
      [second.body.data.id],
    );
    const tokenOf = (res: ApiResponse) => new URL(res.body.data.url).hash.replace('#/invite/', '');
    const old = await server.request('GET', `/admin/v1/invites/lookup?token=${tokenOf(first)}`);
    assert.equal(old.status, 404, old.text);
    assert.equal(old.body.code, 'invite_not_found');
    const stale = await server.request('POST', '/admin/v1/invites/accept', {
      json: { token: tokenOf(first), password: 'fay password' },
    });
    assert.equal(stale.status, 404, stale.text);
    const [made] = await auditOf('invite.create');
    assert.equal(made?.target_id, second.body.data.id);
    assert.deepEqual(made?.details, { email: 'fay@example.com', replaced: [first.body.data.id] });
    // The new link works, once.
    const accepted = await server.request('POST', '/admin/v1/invites/accept', {
      json: { token: tokenOf(second), password: 'fay password' },
    });
    assert.equal(accepted.status, 201, accepted.text);
    // Another email's pending invite was left alone.
    const other = await server.admin('POST', '/admin/v1/invites', { email: 'gus@example.com' });
    await server.admin('POST', '/admin/v1/invites', { email: 'hal@example.com' });
    const still = await server.request('GET', `/admin/v1/invites/lookup?token=${tokenOf(other)}`);
    assert.equal(still.status, 200, still.text);
  });

  test('removing a collaborator logs who it was and what they lost', async () => {
    await server.createEndpoint({ slug: 'orders', name: 'Orders', schema: { type: 'object' } });
    const dana = await invited('Dana@Example.com', 'dana password');
    const cli = await dana.call('POST', '/admin/v1/tokens', { name: 'dana laptop' });
    assert.equal(cli.status, 201, cli.text);
    const key = await server.request('POST', '/admin/v1/keys', {
      token: cli.body.data.token,
      json: { name: 'dana test', environment: 'test' },
    });
    assert.equal(key.status, 201, key.text);

    const removed = await server.admin('DELETE', `/admin/v1/collaborators/${dana.id}`);
    assert.equal(removed.status, 200, removed.text);
    assert.equal(removed.body.data.email, 'dana@example.com');

    const [entry] = await auditOf('collaborator.delete');
    assert.equal(entry?.target_id, dana.id);
    assert.deepEqual(entry?.details, {
      email: 'dana@example.com',
      sessions_ended: 1,
      tokens_revoked: 1,
      keys_revoked: 1,
    });
    // And they did lose it.
    assert.equal((await dana.call('GET', '/admin/v1/session')).status, 401);
    assert.equal(
      (await server.request('GET', '/admin/v1/tokens', { token: cli.body.data.token })).status,
      401,
    );
    const keyNow = await server.admin('GET', `/admin/v1/keys/${key.body.data.id}`);
    assert.equal(keyNow.body.data.status, 'revoked');
  });
});

describe('gatehouse login (sqlite)', () => {
  let server: TestServer;
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-acct-'));

  before(async () => {
    server = await startTestServer('sqlite');
  });
  after(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('a refused token name leaves no session open behind the failed login', async () => {
    const env = {
      GATEHOUSE_URL: server.url,
      GATEHOUSE_CLI_CREDENTIALS: join(dir, 'cli.json'),
      GATEHOUSE_TOKEN: '',
    };
    const login = await runGatehouse(
      ['login', '--email', TEST_OWNER.email, '--password', TEST_OWNER.password, '--name', '   '],
      env,
    );
    assert.equal(login.code, 1, login.stdout);
    assert.match(login.stderr, /name: Must not be blank/);
    const open = await server.services.database.db.selectFrom('sessions').select('id').execute();
    assert.deepEqual(open, []);
    const res = await server.admin('GET', '/admin/v1/audit?action=session');
    assert.deepEqual(
      res.body.data.map((e: { action: string }) => e.action),
      ['session.sign_out', 'session.sign_in'],
    );
  });
});

describe('session lifetime when idle hours exceed the maximum age (sqlite)', () => {
  let server: TestServer;

  before(async () => {
    server = await startTestServer('sqlite', {
      GATEHOUSE_SESSION_IDLE_HOURS: '48',
      GATEHOUSE_SESSION_MAX_DAYS: '1',
    });
  });
  after(() => server.close());

  test('a new session expires at the maximum age, and is refused once past it', async () => {
    const before = Date.now();
    const signedIn = await server.request('POST', '/admin/v1/session', { json: TEST_OWNER });
    assert.equal(signedIn.status, 200, signedIn.text);
    const expires = Date.parse(signedIn.body.data.expires_at);
    assert.ok(
      expires >= before + 86_400_000 && expires <= Date.now() + 86_400_000,
      signedIn.body.data.expires_at,
    );

    // Two days old, with an expiry still ahead (stored under the older, longer maximum): ended.
    const db = server.services.database.db;
    await db
      .updateTable('sessions')
      .set({
        created_at: new Date(Date.now() - 2 * 86_400_000).toISOString(),
        expires_at: new Date(Date.now() + 3_600_000).toISOString(),
      })
      .execute();
    const call = (method: string) =>
      server.request(method, '/admin/v1/session', {
        headers: {
          cookie: /gatehouse_session=[^;]*/.exec(signedIn.headers.get('set-cookie') ?? '')?.[0] ?? '',
        },
      });
    const late = await call('GET');
    assert.equal(late.status, 401, late.text);
    assert.equal(late.body.error, 'Sign in to the dashboard, or send "Authorization: Bearer gm_…"');
    assert.deepEqual(await db.selectFrom('sessions').select('id').execute(), []);
  });
});
