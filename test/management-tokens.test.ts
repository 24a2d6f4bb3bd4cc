import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runGatehouse } from './helpers/process.ts';
import { startTestServer, type TestServer } from './helpers/server.ts';

describe('management tokens: each user lists, creates and revokes their own; login makes one by password', () => {
  let server: TestServer;
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-tokens-'));
  const as = (token: string) => (method: string, path: string, json?: unknown) =>
    server.request(method, path, { token, json });

  before(async () => {
    server = await startTestServer('sqlite');
  });
  after(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('create shows the secret once; list never does; a revoked token is refused at once', async () => {
    const first = await server.admin('GET', '/admin/v1/tokens');
    assert.equal(first.status, 200);
    assert.deepEqual(
      first.body.data.map((t: { name: string; current: boolean }) => [t.name, t.current]),
      [['init', true]],
    );

    const created = await server.admin('POST', '/admin/v1/tokens', { name: 'deploy script' });
    assert.equal(created.status, 201, created.text);
    const { id, token } = created.body.data;
    assert.match(token, /^gm_/);
    assert.equal(created.body.data.object, 'management_token');
    assert.equal(created.body.data.current, false);

    const listed = await as(token)('GET', '/admin/v1/tokens');
    assert.deepEqual(
      listed.body.data.map((t: { name: string; current: boolean }) => [t.name, t.current]),
      [
        ['init', false],
        ['deploy script', true],
      ],
    );
    assert.equal(listed.text.includes(token), false, 'the secret is shown once');
    const audit = await server.admin('GET', '/admin/v1/audit?action=token.create');
    assert.equal(audit.body.data[0].target_id, id);
    assert.equal(JSON.stringify(audit.body).includes(token), false);

    const revoked = await server.admin('DELETE', `/admin/v1/tokens/${id}`);
    assert.equal(revoked.status, 200);
    assert.equal(revoked.body.data.revoked, true);
    const refused = await as(token)('GET', '/admin/v1/endpoints');
    assert.equal(refused.status, 401);
    assert.match(
      refused.body.error,
      /^Unknown or revoked management token: make a new one with "gatehouse login/,
    );
    assert.equal((await server.admin('DELETE', `/admin/v1/tokens/${id}`)).status, 404);
  });

  test('a refused credential is told what the management API takes, not just "Unauthorized"', async () => {
    const key = await server.admin('POST', '/admin/v1/keys', {
      name: 'data',
      environment: 'test',
      scopes: ['*'],
    });
    assert.equal(key.status, 201, key.text);
    const cases: Array<[string, RegExp]> = [
      [
        key.body.data.key,
        /^The management API takes a management token, "Authorization: Bearer gm_…", not an API key/,
      ],
      ['gm_mistyped', /^Unknown or revoked management token/],
      [
        `${server.token.slice(0, -1)}${server.token.endsWith('A') ? 'B' : 'A'}`,
        /^Unknown or revoked management token/,
      ],
    ];
    for (const [credential, message] of cases) {
      const refused = await as(credential)('GET', '/admin/v1/endpoints');
      assert.equal(refused.status, 401, credential);
      assert.equal(refused.body.code, 'unauthorized');
      assert.match(refused.body.error, message);
    }
  });

  test('bad names are refused and nothing is made', async () => {
    for (const body of [
      {},
      { name: '' },
      { name: '   ' },
      { name: 'x'.repeat(201) },
      { name: 'ok', extra: 1 },
    ]) {
      const res = await server.admin('POST', '/admin/v1/tokens', body);
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.equal(res.body.code, 'invalid_request');
    }
    // Whitespace alone, no-break and ideographic spaces too, is blank: said in the dashboard's words.
    for (const name of ['   ', '\u00a0\u3000\t']) {
      const res = await server.admin('POST', '/admin/v1/tokens', { name });
      assert.equal(res.status, 400, res.text);
      assert.deepEqual(res.body.details, [{ field: 'name', error: 'Must not be blank' }]);
    }
    assert.equal((await server.admin('GET', '/admin/v1/tokens')).body.data.length, 1);
  });

  test('CLI: login by password saves a new token; a collaborator sees and revokes only their own', async () => {
    const credentials = join(dir, 'cli.json');
    const env = { GATEHOUSE_URL: server.url, GATEHOUSE_CLI_CREDENTIALS: credentials, GATEHOUSE_TOKEN: '' };
    const cli = (...args: string[]) => runGatehouse(args, env);

    const wrong = await cli('login', '--email', 'owner@example.com', '--password', 'not the password');
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /\(invalid_credentials|unauthorized\)/);
    assert.equal(existsSync(credentials), false, 'nothing saved');

    const login = await cli('login', '--email', 'owner@example.com', '--password', 'correct horse battery');
    assert.equal(login.code, 0, login.stderr);
    assert.match(login.stdout, /Signed in\. The CLI saved a new management token/);
    assert.equal(statSync(credentials).mode & 0o777, 0o600);
    const saved = JSON.parse(readFileSync(credentials, 'utf8'));
    assert.equal(saved.url, server.url);
    const listed = await cli('tokens', 'list');
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, /cli on \S+\s+\S+\s+\S+Z\s+yes \(this CLI\)/);

    const made = await cli('tokens', 'create', '--name', 'ci', '--json');
    const ci = JSON.parse(made.stdout).data;
    const unconfirmed = await cli('tokens', 'revoke', ci.id);
    assert.equal(unconfirmed.code, 1);
    assert.match(unconfirmed.stderr, /cli_not_confirmed/);
    assert.equal((await as(ci.token)('GET', '/admin/v1/tokens')).status, 200, 'still works');
    const revoked = await cli('tokens', 'revoke', ci.id, '--yes');
    assert.equal(revoked.code, 0, revoked.stderr);
    assert.equal((await as(ci.token)('GET', '/admin/v1/tokens')).status, 401);

    // A collaborator signs in the same way; their tokens are theirs alone.
    const invite = await server.admin('POST', '/admin/v1/invites', { email: 'collab@example.com' });
    const inviteToken = new URL(invite.body.data.url).hash.replace('#/invite/', '');
    const accepted = await server.request('POST', '/admin/v1/invites/accept', {
      json: { token: inviteToken, password: 'collaborator password' },
    });
    assert.equal(accepted.status, 201, accepted.text);
    const collabEnv = { ...env, GATEHOUSE_CLI_CREDENTIALS: join(dir, 'collab.json') };
    const collabLogin = await runGatehouse(
      ['login', '--email', 'collab@example.com', '--password', 'collaborator password'],
      collabEnv,
    );
    assert.equal(collabLogin.code, 0, collabLogin.stderr);
    const collabToken = JSON.parse(readFileSync(join(dir, 'collab.json'), 'utf8')).token as string;
    const theirs = await as(collabToken)('GET', '/admin/v1/tokens');
    assert.equal(theirs.body.data.length, 1);
    const ownerTokens = (await server.admin('GET', '/admin/v1/tokens')).body.data;
    for (const t of ownerTokens) {
      assert.equal((await as(collabToken)('DELETE', `/admin/v1/tokens/${t.id}`)).status, 404);
    }
    assert.equal((await as(collabToken)('GET', '/admin/v1/keys')).status, 200);
    assert.equal(
      (await as(collabToken)('POST', '/admin/v1/endpoints', { slug: 'no', name: 'No' })).status,
      403,
    );

    // Revoking the token in use is allowed: the CLI says so, and its next call is refused.
    const self = await runGatehouse(['tokens', 'revoke', theirs.body.data[0].id, '--yes'], collabEnv);
    assert.equal(self.code, 0, self.stderr);
    assert.match(self.stdout, /it was this CLI’s own; "gatehouse login" gets a new one/);
    const after = await runGatehouse(['tokens', 'list'], collabEnv);
    assert.equal(after.code, 1);
    assert.match(after.stderr, /unauthorized/);
  });
});

describe('management tokens end with their user, whatever the cache holds', () => {
  let server: TestServer;

  before(async () => {
    // A long cache TTL: only an invalidation can explain a token refused right after.
    server = await startTestServer('sqlite', { GATEHOUSE_CACHE_TTL_MS: '3600000' });
  });
  after(async () => {
    await server.close();
  });

  test("a removed collaborator's management token is refused at once, not when the cache expires", async () => {
    const invite = await server.admin('POST', '/admin/v1/invites', { email: 'gone@example.com' });
    const inviteToken = new URL(invite.body.data.url).hash.replace('#/invite/', '');
    const accepted = await server.request('POST', '/admin/v1/invites/accept', {
      json: { token: inviteToken, password: 'collaborator password' },
    });
    assert.equal(accepted.status, 201, accepted.text);
    const cookie = `gatehouse_session=${/gatehouse_session=([^;]+)/.exec(accepted.headers.get('set-cookie') ?? '')?.[1]}`;
    const made = await server.request('POST', '/admin/v1/tokens', {
      json: { name: 'laptop' },
      headers: { cookie, 'x-csrf-token': accepted.body.data.csrf_token },
    });
    assert.equal(made.status, 201, made.text);
    const token = made.body.data.token as string;
    assert.equal((await server.request('GET', '/admin/v1/keys', { token })).status, 200); // now cached

    const removed = await server.admin('DELETE', `/admin/v1/collaborators/${accepted.body.data.user.id}`);
    assert.equal(removed.status, 200, removed.text);
    const refused = await server.request('GET', '/admin/v1/keys', { token });
    assert.equal(refused.status, 401, refused.text);
    assert.equal(refused.body.code, 'unauthorized');
    const create = await server.request('POST', '/admin/v1/keys', {
      token,
      json: { name: 'after removal', environment: 'test' },
    });
    assert.equal(create.status, 401, 'nothing is made with it');
    assert.equal((await server.admin('GET', '/admin/v1/keys')).body.data.length, 0);
  });

  test('a blank Authorization beside a session cookie is no credential: the session decides', async () => {
    const signedIn = await server.request('POST', '/admin/v1/session', {
      json: { email: 'owner@example.com', password: 'correct horse battery' },
    });
    assert.equal(signedIn.status, 200, signedIn.text);
    const cookie = `gatehouse_session=${/gatehouse_session=([^;]+)/.exec(signedIn.headers.get('set-cookie') ?? '')?.[1]}`;
    const csrf = signedIn.body.data.csrf_token as string;
    for (const authorization of ['', '   ']) {
      const listed = await server.request('GET', '/admin/v1/keys', { headers: { cookie, authorization } });
      assert.equal(listed.status, 200, listed.text);
      const made = await server.request('POST', '/admin/v1/keys', {
        headers: { cookie, authorization, 'x-csrf-token': csrf },
        json: { name: `blank ${authorization.length}`, environment: 'test' },
      });
      assert.equal(made.status, 201, made.text);
      // Still no way around the session's CSRF check.
      const forged = await server.request('POST', '/admin/v1/keys', {
        headers: { cookie, authorization },
        json: { name: 'forged', environment: 'test' },
      });
      assert.equal(forged.status, 403, forged.text);
      // Without a session, a blank Authorization is told to sign in, as none would be.
      const none = await server.request('GET', '/admin/v1/keys', { headers: { authorization } });
      assert.equal(none.status, 401);
      assert.match(none.body.error, /Sign in to the dashboard/);
    }
    const names = (await server.admin('GET', '/admin/v1/keys')).body.data.map(
      (k: { name: string }) => k.name,
    );
    assert.deepEqual(names.sort(), ['blank 0', 'blank 3']);
  });
});
