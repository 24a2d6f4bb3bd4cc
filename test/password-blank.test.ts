import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createTestDatabase, databaseKinds } from './helpers/database.ts';
import { runGatehouse } from './helpers/process.ts';
import { type ApiResponse, startTestServer, TEST_OWNER, type TestServer } from './helpers/server.ts';

/** Long enough, and nothing but whitespace: spaces, a tab, no-break and ideographic spaces. */
const BLANK_PASSWORDS = ['        ', ' \t \t \t \t', '\u00a0\u00a0\u00a0\u00a0\u3000\u3000\u3000\u3000'];

/** The refusal every password rule gives: 400 invalid_request naming the field. */
function assertBlankRefused(res: { status: number; text: string; body: ApiResponse['body'] }, field: string) {
  assert.equal(res.status, 400, res.text);
  assert.equal(res.body.code, 'invalid_request', res.text);
  assert.deepEqual(res.body.details, [{ field, error: 'Must not be blank' }]);
}

/** A password made only of whitespace is refused wherever a password is chosen: API and CLI. */
for (const kind of databaseKinds) {
  describe(`a blank password is refused (${kind})`, () => {
    let server: TestServer;
    before(async () => {
      server = await startTestServer(kind);
    });
    after(() => server.close());

    test('accepting an invite', async () => {
      const invite = await server.admin('POST', '/admin/v1/invites', { email: 'blank@example.com' });
      const token = String(invite.body.data.url).split('#/invite/')[1];
      for (const password of BLANK_PASSWORDS) {
        const res = await server.request('POST', '/admin/v1/invites/accept', { json: { token, password } });
        assertBlankRefused(res, 'password');
      }
      // The invite is still good for a real password.
      const accepted = await server.request('POST', '/admin/v1/invites/accept', {
        json: { token, password: '  a real one  ' },
      });
      assert.equal(accepted.status, 201, accepted.text);
    });

    test('changing your own password', async () => {
      const signed = await server.request('POST', '/admin/v1/session', { json: TEST_OWNER });
      assert.equal(signed.status, 200, signed.text);
      const cookie = /gatehouse_session=[^;]*/.exec(signed.headers.get('set-cookie') ?? '')?.[0] ?? '';
      for (const password of BLANK_PASSWORDS) {
        const res = await server.request('PUT', '/admin/v1/account/password', {
          json: { current_password: TEST_OWNER.password, new_password: password },
          headers: { cookie, 'x-csrf-token': signed.body.data.csrf_token },
        });
        assertBlankRefused(res, 'new_password');
      }
    });

    test('gatehouse reset-password and gatehouse init', { timeout: 120_000 }, async () => {
      const env = { DATABASE_URL: server.database.url, LOG_LEVEL: 'silent' };
      const reset = await runGatehouse(
        ['reset-password', '--email', TEST_OWNER.email, '--password', '         ', '--json'],
        env,
      );
      assert.equal(reset.code, 1, reset.stdout);
      assertBlankRefused({ status: 400, text: reset.stdout, body: JSON.parse(reset.stdout) }, 'password');
      const signed = await server.request('POST', '/admin/v1/session', { json: TEST_OWNER });
      assert.equal(signed.status, 200, 'the refused reset changed nothing');

      const fresh = await createTestDatabase(kind);
      try {
        const init = await runGatehouse(
          ['init', '--email', 'first@example.com', '--password', '         ', '--json'],
          {
            DATABASE_URL: fresh.url,
            LOG_LEVEL: 'silent',
            GATEHOUSE_CLI_CREDENTIALS: join(tmpdir(), `gatehouse-blank-${process.pid}`, 'cli.json'),
          },
        );
        assert.equal(init.code, 1, init.stdout);
        assertBlankRefused({ status: 400, text: init.stdout, body: JSON.parse(init.stdout) }, 'password');
      } finally {
        await fresh.drop();
      }
    });
  });
}
