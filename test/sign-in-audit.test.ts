import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { databaseKinds } from './helpers/database.ts';
import { startTestServer, TEST_OWNER, type TestServer } from './helpers/server.ts';
import { until } from './helpers/until.ts';

type Entry = { action: string; target_id: string; ip: string; actor: unknown };

/**
 * Refused dashboard sign-ins are in the audit log, never with the password: each wrong password,
 * and a user's lockout by the sign-in limits once per client and window however often it is hit.
 * An email no user has is never noted as locked out.
 */
for (const kind of databaseKinds) {
  describe(`refused sign-ins in the audit log (${kind})`, () => {
    let server: TestServer;
    before(async () => {
      server = await startTestServer(kind);
    });
    after(() => server.close());

    const signIn = (email: string, password: string) =>
      server.request('POST', '/admin/v1/session', { json: { email, password } });
    const entries = async (action: string) => {
      const res = await server.admin('GET', `/admin/v1/audit?action=${action}&limit=200`);
      assert.equal(res.status, 200, res.text);
      return { list: res.body.data as Entry[], text: res.text };
    };

    test('wrong passwords, then the lockout: each failure and one lockout entry, no password', async () => {
      const guesses = Array.from({ length: 5 }, (_, i) => `secret-guess-${i}`);
      for (const guess of guesses) assert.equal((await signIn(TEST_OWNER.email, guess)).status, 401);
      for (const guess of ['secret-guess-locked-1', 'secret-guess-locked-2', TEST_OWNER.password]) {
        const refused = await signIn(TEST_OWNER.email, guess);
        assert.equal(refused.status, 429, refused.text);
        assert.equal(refused.body.code, 'too_many_failed_attempts');
      }

      const failed = await entries('session.sign_in_failed');
      assert.equal(failed.list.filter((e) => e.target_id === TEST_OWNER.email).length, 5);
      // Noted just after the answer (so timing does not tell which emails have a user).
      const locked = await until(
        () => entries('session.sign_in_locked'),
        (read) => read.list.length > 0,
      );
      assert.deepEqual(
        locked.list.map((e) => [e.target_id, e.ip, e.actor]),
        [[TEST_OWNER.email, '127.0.0.1', null]],
        'one lockout entry for the user and client, however often it was hit',
      );
      const all = await server.admin('GET', '/admin/v1/audit?limit=200');
      assert.doesNotMatch(all.text, /secret-guess|correct horse/, 'no password in the log');
    });

    test('an email no user has is not noted as locked out', async () => {
      for (let i = 0; i < 7; i++) await signIn('nobody@example.com', `secret-guess-${i}`);
      assert.equal((await signIn('nobody@example.com', 'x')).status, 429);
      const locked = await entries('session.sign_in_locked');
      assert.deepEqual(
        locked.list.filter((e) => e.target_id === 'nobody@example.com'),
        [],
      );
    });
  });
}
