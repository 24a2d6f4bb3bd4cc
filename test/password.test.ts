import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { databaseKinds } from './helpers/database.ts';
import { runGatehouse } from './helpers/process.ts';
import { type ApiResponse, startTestServer, type TestServer } from './helpers/server.ts';

const OWNER = { email: 'owner@example.com', password: 'correct horse battery' };

/** A dashboard session: its cookie and CSRF token. */
interface Session {
  cookie: string;
  csrf: string;
}

for (const kind of databaseKinds) {
  describe(`passwords: change your own, reset a forgotten one (${kind})`, () => {
    let server: TestServer;
    before(async () => {
      server = await startTestServer(kind);
    });
    after(() => server.close());

    async function signIn(email: string, password: string): Promise<ApiResponse & { session?: Session }> {
      const res = await server.request('POST', '/admin/v1/session', { json: { email, password } });
      if (res.status !== 200) return res;
      const cookie = /gatehouse_session=[^;]*/.exec(res.headers.get('set-cookie') ?? '')?.[0] ?? '';
      return { ...res, session: { cookie, csrf: res.body.data.csrf_token } };
    }
    const session = async (email: string, password: string): Promise<Session> => {
      const signed = await signIn(email, password);
      assert.ok(signed.session, signed.text);
      return signed.session;
    };
    const change = (from: Session, json: unknown) =>
      server.request('PUT', '/admin/v1/account/password', {
        json,
        headers: { cookie: from.cookie, 'x-csrf-token': from.csrf },
      });
    const signedIn = async (from: Session) =>
      (await server.request('GET', '/admin/v1/session', { headers: { cookie: from.cookie } })).status === 200;
    const passwordHash = async () =>
      (
        await server.services.database.db
          .selectFrom('owners')
          .select('password_hash')
          .where('email', '=', OWNER.email)
          .executeTakeFirstOrThrow()
      ).password_hash;

    test('a wrong or unusable password changes nothing; the right one ends the other sessions only', async () => {
      const here = await session(OWNER.email, OWNER.password);
      const elsewhere = await session(OWNER.email, OWNER.password);
      const hash = await passwordHash();
      const refusals: Array<[unknown, string, string]> = [
        [
          { current_password: 'wrong password', new_password: 'a brand new one' },
          'current_password',
          'Is not your current password',
        ],
        [{ current_password: OWNER.password, new_password: 'short' }, 'new_password', ''],
        [
          { current_password: OWNER.password, new_password: OWNER.password },
          'new_password',
          'Must differ from the current password',
        ],
        [{ current_password: OWNER.password }, 'new_password', ''],
      ];
      for (const [body, field, error] of refusals) {
        const res = await change(here, body);
        assert.equal(res.status, 400, res.text);
        assert.equal(res.body.code, 'invalid_request');
        assert.equal(res.body.details[0].field, field, res.text);
        if (error) assert.equal(res.body.details[0].error, error);
      }
      // Without the CSRF token, as every state-changing dashboard call.
      const forged = await server.request('PUT', '/admin/v1/account/password', {
        json: { current_password: OWNER.password, new_password: 'a brand new one' },
        headers: { cookie: here.cookie },
      });
      assert.equal(forged.body.code, 'csrf_failed');
      assert.equal(await passwordHash(), hash);
      assert.ok(await signedIn(elsewhere));

      const changed = await change(here, {
        current_password: OWNER.password,
        new_password: 'a brand new one',
      });
      assert.equal(changed.status, 200, changed.text);
      assert.equal(changed.body.data.email, OWNER.email);
      assert.equal(changed.body.data.sessions_ended, 1);
      assert.equal(changed.body.data.password_hash, undefined);
      // The session the change came from stays, under a new cookie value and CSRF token: a copy of
      // the old cookie is out with the other sessions.
      assert.equal(await signedIn(here), false, 'the old cookie value no longer works');
      const renewed: Session = {
        cookie:
          /__Host-gatehouse_session=[^;]*|gatehouse_session=[^;]*/.exec(
            changed.headers.get('set-cookie') ?? '',
          )?.[0] ?? '',
        csrf: changed.body.data.csrf_token,
      };
      assert.notEqual(renewed.csrf, here.csrf);
      assert.ok(await signedIn(renewed), 'the session the change came from stays');
      const current = await server.request('GET', '/admin/v1/session', {
        headers: { cookie: renewed.cookie },
      });
      assert.equal(current.body.data.csrf_token, renewed.csrf);
      assert.equal(await signedIn(elsewhere), false, 'another session ended');
      assert.equal((await signIn(OWNER.email, OWNER.password)).status, 401);
      assert.ok((await signIn(OWNER.email, 'a brand new one')).session);
      // The CLI's management token stays unless revoke_tokens asks (test/password-tokens.test.ts).
      assert.equal(changed.body.data.tokens_revoked, 0);
      assert.equal((await server.admin('GET', '/admin/v1/tokens')).status, 200);
      const audit = await server.admin('GET', '/admin/v1/audit?action=user.password_change');
      assert.equal(audit.body.data.length, 1);
      assert.deepEqual(audit.body.data[0].details, { sessions_ended: 1, tokens_revoked: 0 });

      // With a management token there is no session to keep: every one ends.
      const token = await server.request('PUT', '/admin/v1/account/password', {
        token: server.token,
        json: { current_password: 'a brand new one', new_password: OWNER.password },
      });
      assert.equal(token.status, 200, token.text);
      assert.equal(token.body.data.sessions_ended, 2);
      assert.equal(token.body.data.csrf_token, undefined, 'no session to renew');
      assert.equal(token.headers.get('set-cookie'), null);
      assert.equal(await signedIn(renewed), false);
    });

    test('guessing the current password from a stolen session stops after 5 wrong ones', async () => {
      // The first test's wrong guess is in the window too: this one starts from none.
      const clear = () =>
        server.services.database.db
          .deleteFrom('audit_log')
          .where('action', '=', 'user.password_change_failed')
          .execute();
      await clear();
      const thief = await session(OWNER.email, OWNER.password);
      const hash = await passwordHash();
      for (let i = 0; i < 5; i++) {
        const res = await change(thief, { current_password: `guess ${i}`, new_password: 'taken over!' });
        assert.equal(res.status, 400, res.text);
      }
      const refused = await change(thief, { current_password: OWNER.password, new_password: 'taken over!' });
      assert.equal(refused.status, 429, refused.text);
      assert.equal(refused.body.code, 'too_many_failed_attempts');
      assert.equal(refused.headers.get('retry-after'), '900');
      assert.equal(await passwordHash(), hash);
      await clear();
    });

    test('a collaborator changes their own password, never another user’s', async () => {
      const invite = await server.admin('POST', '/admin/v1/invites', { email: 'c@example.com' });
      const accepted = await server.request('POST', '/admin/v1/invites/accept', {
        json: { token: String(invite.body.data.url).split('#/invite/')[1], password: 'collaborator pass' },
      });
      assert.equal(accepted.status, 201, accepted.text);
      const collaborator = await session('c@example.com', 'collaborator pass');
      const ownerHash = await passwordHash();
      const res = await change(collaborator, {
        current_password: 'collaborator pass',
        new_password: 'collaborator pass 2',
      });
      assert.equal(res.status, 200, res.text);
      assert.equal(res.body.data.email, 'c@example.com');
      assert.equal(await passwordHash(), ownerHash);
      assert.ok((await signIn('c@example.com', 'collaborator pass 2')).session);
    });

    test('a sign-in with the old password racing the change keeps no session', async () => {
      const byToken = (current: string, next: string) =>
        server.request('PUT', '/admin/v1/account/password', {
          token: server.token,
          json: { current_password: current, new_password: next },
        });
      // The sign-in starts while the change is under way, at different points of it.
      for (let delay = 0; delay <= 150; delay += 10) {
        const changing = byToken(OWNER.password, 'raced password!');
        await new Promise((r) => setTimeout(r, delay));
        const [changed, signed] = await Promise.all([changing, signIn(OWNER.email, OWNER.password)]);
        assert.equal(changed.status, 200, changed.text);
        if (signed.session) {
          assert.equal(await signedIn(signed.session), false, `a session outlived the change (${delay} ms)`);
        }
        assert.equal((await byToken('raced password!', OWNER.password)).status, 200);
      }
      // The sign-ins that lost the race count as failed ones: clear them for the next test.
      await server.services.database.db
        .deleteFrom('audit_log')
        .where('action', '=', 'session.sign_in_failed')
        .execute();
    });

    test('gatehouse reset-password sets a forgotten password where the database is, and ends every session', {
      timeout: 120_000,
    }, async () => {
      const before = await session(OWNER.email, OWNER.password);
      const env = { DATABASE_URL: server.database.url, LOG_LEVEL: 'silent' };
      const unknown = await runGatehouse(
        ['reset-password', '--email', 'nobody@example.com', '--password', 'whatever long', '--json'],
        env,
      );
      assert.equal(unknown.code, 1);
      assert.equal(JSON.parse(unknown.stdout).code, 'not_found');
      const short = await runGatehouse(
        ['reset-password', '--email', OWNER.email, '--password', 'short', '--json'],
        env,
      );
      assert.equal(short.code, 1);
      assert.equal(JSON.parse(short.stdout).code, 'invalid_request');
      assert.ok(await signedIn(before), 'refused resets change nothing');
      const reset = await runGatehouse(
        ['reset-password', '--email', 'Owner@Example.com', '--password', 'remembered at last', '--json'],
        env,
      );
      assert.equal(reset.code, 0, reset.stderr);
      const data = JSON.parse(reset.stdout).data;
      assert.equal(data.email, OWNER.email);
      assert.ok(data.sessions_ended >= 1);
      assert.equal(await signedIn(before), false);
      assert.equal((await signIn(OWNER.email, OWNER.password)).status, 401);
      assert.ok((await signIn(OWNER.email, 'remembered at last')).session);
    });
  });
}
