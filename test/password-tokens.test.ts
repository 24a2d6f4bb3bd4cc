import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { databaseKinds } from './helpers/database.ts';
import { runGatehouse } from './helpers/process.ts';
import { type ApiResponse, startPeerServer, startTestServer, type TestServer } from './helpers/server.ts';
import { until } from './helpers/until.ts';

const OWNER = { email: 'owner@example.com', password: 'correct horse battery' };
const REDIS_URL = 'redis://127.0.0.1:6379';

for (const kind of databaseKinds) {
  describe(`a password change or reset revokes management tokens, on every server (${kind})`, () => {
    // A cache TTL of ten minutes: only the invalidation can explain a token refused in a test.
    const env = {
      REDIS_URL,
      GATEHOUSE_REDIS_PREFIX: `test-${randomBytes(4).toString('hex')}:`,
      GATEHOUSE_CACHE_TTL_MS: '600000',
    };
    let a: TestServer;
    let bUrl: string;
    let closeB: () => Promise<void>;
    let password = OWNER.password;
    /** The owner's token the tests act with (a.token until a test revokes it). */
    let ownerToken = '';

    before(async () => {
      a = await startTestServer(kind, env);
      ownerToken = a.token;
      ({ url: bUrl, close: closeB } = await startPeerServer(a, env));
    });
    after(async () => {
      await closeB();
      await a.close();
      const redis = new Redis(REDIS_URL);
      const keys = await redis.keys(`${env.GATEHOUSE_REDIS_PREFIX}*`);
      if (keys.length > 0) await redis.del(...keys);
      redis.disconnect();
    });

    /** New management tokens of the owner, each used once on both servers (so both cache it). */
    async function tokens(...names: string[]): Promise<Array<{ id: string; token: string }>> {
      const made: Array<{ id: string; token: string }> = [];
      for (const name of names) {
        const res = await a.request('POST', '/admin/v1/tokens', { token: ownerToken, json: { name } });
        assert.equal(res.status, 201, res.text);
        made.push({ id: res.body.data.id, token: res.body.data.token });
        assert.equal(await statusOn(a.url, res.body.data.token), 200);
        assert.equal(await statusOn(bUrl, res.body.data.token), 200);
      }
      return made;
    }
    const statusOn = async (url: string, token: string) =>
      (await fetch(`${url}/admin/v1/endpoints`, { headers: { authorization: `Bearer ${token}` } })).status;
    const signIn = async () => {
      const res = await a.request('POST', '/admin/v1/session', { json: { email: OWNER.email, password } });
      assert.equal(res.status, 200, res.text);
      return {
        cookie: /gatehouse_session=[^;]*/.exec(res.headers.get('set-cookie') ?? '')?.[0] ?? '',
        csrf: String(res.body.data.csrf_token),
      };
    };
    /** Changes the owner's password to a new one with `extra` in the body. */
    async function change(
      from: { token: string } | { cookie: string; csrf: string },
      extra: Record<string, unknown>,
    ): Promise<ApiResponse> {
      const next = `${OWNER.password} ${randomBytes(3).toString('hex')}`;
      const res = await a.request('PUT', '/admin/v1/account/password', {
        json: { current_password: password, new_password: next, ...extra },
        ...('token' in from
          ? { token: from.token }
          : { headers: { cookie: from.cookie, 'x-csrf-token': from.csrf } }),
      });
      if (res.status === 200) password = next;
      return res;
    }
    const tokenIds = async () =>
      (await a.services.database.db.selectFrom('management_tokens').select('id').orderBy('id').execute()).map(
        (row) => row.id,
      );
    const passwordHash = async () =>
      (
        await a.services.database.db
          .selectFrom('owners')
          .select('password_hash')
          .where('email', '=', OWNER.email)
          .executeTakeFirstOrThrow()
      ).password_hash;
    // Read where the tokens cannot be revoked from under it.
    const lastAudit = async (action: string) => (await a.services.audit.list({ action, limit: '1' })).data[0];

    test('revoke_tokens that is not a boolean is refused, and changes nothing', async () => {
      const [script] = await tokens('script');
      assert.ok(script);
      const session = await signIn();
      const hash = await passwordHash();
      const held = await tokenIds();
      for (const value of ['true', 1, null, [true], {}]) {
        const res = await change({ token: ownerToken }, { revoke_tokens: value });
        assert.equal(res.status, 400, res.text);
        assert.equal(res.body.code, 'invalid_request');
        assert.equal(res.body.details[0].field, 'revoke_tokens', res.text);
        assert.match(res.body.details[0].error, /boolean/, res.text);
      }
      assert.equal(await passwordHash(), hash, 'the password is unchanged');
      assert.deepEqual(await tokenIds(), held, 'every token is still there');
      assert.equal(await statusOn(bUrl, script.token), 200);
      assert.equal(
        (await a.request('GET', '/admin/v1/session', { headers: { cookie: session.cookie } })).status,
        200,
        'no session ended',
      );
    });

    test('without revoke_tokens (or false) the tokens stay, as before', async () => {
      const [kept] = await tokens('ci');
      assert.ok(kept);
      const held = await tokenIds();
      for (const extra of [{}, { revoke_tokens: false }]) {
        const res = await change({ token: ownerToken }, extra);
        assert.equal(res.status, 200, res.text);
        assert.equal(res.body.data.tokens_revoked, 0);
        assert.deepEqual(await tokenIds(), held);
        assert.equal(await statusOn(a.url, kept.token), 200);
        assert.equal(await statusOn(bUrl, kept.token), 200);
        assert.deepEqual((await lastAudit('user.password_change'))?.details, {
          sessions_ended: res.body.data.sessions_ended,
          tokens_revoked: 0,
        });
      }
    });

    test('with a token: every other token is refused at once, here and on the other server; the calling one stays', async () => {
      const [laptop, stolen] = await tokens('laptop', 'gatehouse login by someone else');
      assert.ok(laptop && stolen);
      const held = (await tokenIds()).length;
      const res = await change({ token: ownerToken }, { revoke_tokens: true });
      assert.equal(res.status, 200, res.text);
      assert.equal(res.body.data.tokens_revoked, held - 1);
      // This server forgot them before it answered; the other one on the Redis message.
      assert.equal(await statusOn(a.url, stolen.token), 401);
      assert.equal(await statusOn(a.url, laptop.token), 401);
      assert.equal(
        await until(
          () => statusOn(bUrl, stolen.token),
          (s) => s === 401,
        ),
        401,
      );
      assert.equal(await statusOn(bUrl, laptop.token), 401);
      // The token the change was made with goes on working, on both servers.
      assert.equal(await statusOn(a.url, ownerToken), 200);
      assert.equal(await statusOn(bUrl, ownerToken), 200);
      assert.equal((await tokenIds()).length, 1);
      assert.deepEqual((await lastAudit('user.password_change'))?.details, {
        sessions_ended: 0,
        tokens_revoked: held - 1,
      });
    });

    test('a token asked for with a credential the change revokes, answered after it, is refused', async () => {
      // What a call to POST /admin/v1/tokens authenticated just before the change commits holds
      // when it writes just after: the token or session it came with, now gone.
      const [stolen] = await tokens('stolen');
      assert.ok(stolen);
      const byToken = await a.services.owners.verifyToken(stolen.token);
      const cookie = decodeURIComponent((await signIn()).cookie.split('=')[1] ?? '');
      const session = await a.services.users.session(cookie);
      assert.ok(session);
      const bySession = { userId: session.userId, role: session.role, sessionId: session.sessionId };
      const res = await change({ token: ownerToken }, { revoke_tokens: true });
      assert.equal(res.status, 200, res.text);
      const held = await tokenIds();
      for (const principal of [byToken, bySession]) {
        await assert.rejects(a.services.owners.createToken(principal, { name: 'made in the race' }), {
          code: 'unauthorized',
        });
      }
      assert.deepEqual(await tokenIds(), held, 'no token made');
    });

    test('from a dashboard session, every token is revoked', async () => {
      const [cli] = await tokens('cli');
      assert.ok(cli);
      const session = await signIn();
      const res = await change(session, { revoke_tokens: true });
      assert.equal(res.status, 200, res.text);
      assert.equal(res.body.data.tokens_revoked, 2);
      assert.equal(await statusOn(a.url, ownerToken), 401);
      assert.equal(await statusOn(a.url, cli.token), 401);
      assert.equal(
        await until(
          () => statusOn(bUrl, cli.token),
          (s) => s === 401,
        ),
        401,
      );
      assert.deepEqual(await tokenIds(), []);
      // The owner makes a new one (as `gatehouse login` would) for the tests that follow.
      const renewed = {
        cookie: /gatehouse_session=[^;]*/.exec(res.headers.get('set-cookie') ?? '')?.[0] ?? '',
        csrf: String(res.body.data.csrf_token),
      };
      const made = await a.request('POST', '/admin/v1/tokens', {
        json: { name: 'owner again' },
        headers: { cookie: renewed.cookie, 'x-csrf-token': renewed.csrf },
      });
      assert.equal(made.status, 201, made.text);
      ownerToken = made.body.data.token;
    });

    test('gatehouse reset-password revokes the tokens too, unless --keep-tokens', {
      timeout: 120_000,
    }, async () => {
      const [script] = await tokens('script');
      assert.ok(script);
      const cli = { DATABASE_URL: a.database.url, LOG_LEVEL: 'silent', ...env };
      const kept = await runGatehouse(
        ['reset-password', '--email', OWNER.email, '--password', 'forgotten only', '--keep-tokens', '--json'],
        cli,
      );
      assert.equal(kept.code, 0, kept.stderr);
      assert.equal(JSON.parse(kept.stdout).data.tokens_revoked, 0);
      assert.equal(await statusOn(a.url, script.token), 200);

      const reset = await runGatehouse(
        ['reset-password', '--email', OWNER.email, '--password', 'leaked, so reset', '--json'],
        cli,
      );
      assert.equal(reset.code, 0, reset.stderr);
      assert.equal(JSON.parse(reset.stdout).data.tokens_revoked, 2);
      password = 'leaked, so reset';
      assert.deepEqual(await tokenIds(), []);
      // The CLI is another process: both servers hear it over Redis, the cache notwithstanding.
      assert.equal(
        await until(
          () => statusOn(a.url, script.token),
          (s) => s === 401,
        ),
        401,
      );
      assert.equal(
        await until(
          () => statusOn(bUrl, ownerToken),
          (s) => s === 401,
        ),
        401,
      );
      assert.deepEqual((await lastAudit('user.password_reset'))?.details, {
        sessions_ended: 0,
        tokens_revoked: 2,
      });
    });
  });
}
