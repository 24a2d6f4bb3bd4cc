import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
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
});
