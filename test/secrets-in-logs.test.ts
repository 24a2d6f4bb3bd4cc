import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { after, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { freePort } from '../bench/lib.ts';
import { createTestDatabase, type TestDatabase } from './helpers/database.ts';
import { waitHealthy } from './helpers/process.ts';
import { type Receiver, startReceiver } from './helpers/receiver.ts';

const run = promisify(execFile);

/** A full run at debug level, then every secret it created is searched for in its logs. */
describe('no secret ever reaches the logs', () => {
  let database: TestDatabase;
  let receiver: Receiver;

  after(async () => {
    await receiver?.close();
    await database?.drop();
  });

  test('keys, tokens, passwords, signing secrets and callback auth values stay out of the logs', async () => {
    database = await createTestDatabase('sqlite');
    receiver = await startReceiver();
    receiver.respond = (_r, i) => ({ status: i === 0 ? 500 : 200 });
    const port = await freePort();
    const env = {
      ...process.env,
      DATABASE_URL: database.url,
      PORT: String(port),
      LOG_LEVEL: 'debug',
      GATEHOUSE_WEBHOOK_ALLOW_NETS: '127.0.0.0/8',
      GATEHOUSE_CLI_CREDENTIALS: `${database.url.slice(7)}.cli.json`,
    };
    const password = 'correct-horse-battery-staple-42';
    const init = await run(
      process.execPath,
      ['bin/gatehouse.js', 'init', '--email', 'o@example.com', '--password', password, '--json'],
      { env },
    );
    const token = JSON.parse(init.stdout).data.token as string;
    const child = spawn(process.execPath, ['bin/gatehouse.js', 'start'], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let logs = '';
    child.stdout.on('data', (d) => {
      logs += d;
    });
    child.stderr.on('data', (d) => {
      logs += d;
    });
    const base = `http://127.0.0.1:${port}`;
    await waitHealthy(port);
    const admin = async (method: string, path: string, body?: unknown) => {
      const res = await fetch(`${base}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          ...(body ? { 'content-type': 'application/json' } : {}),
        },
        body: body ? JSON.stringify(body) : undefined,
      });
      return (await res.json()) as { data: Record<string, string> };
    };
    const secrets: string[] = [token, password];
    await admin('POST', '/admin/v1/endpoints', {
      slug: 'orders',
      name: 'Orders',
      schema: { type: 'object' },
      retry: { max_retries: 1, interval_seconds: 1 },
    });
    const key = (await admin('POST', '/admin/v1/keys', { name: 'k', environment: 'test' })).data;
    secrets.push(key.key ?? '');
    const rolled = (await admin('POST', `/admin/v1/keys/${key.id}/roll`, {})).data;
    secrets.push(rolled.key ?? '');
    // Receivers' URLs often carry a secret of their own, in the path or the query (a Slack-style
    // hook, ?token=): a failed attempt names its target by origin only.
    const subscriptionUrl = `${receiver.url}/path-secret-of-the-subscription?token=query-secret-of-the-subscription`;
    const callbackUrl = `${receiver.url}/path-secret-of-the-callback?token=query-secret-of-the-callback`;
    secrets.push(
      'path-secret-of-the-subscription',
      'query-secret-of-the-subscription',
      'path-secret-of-the-callback',
      'query-secret-of-the-callback',
    );
    const sub = (
      await admin('POST', '/admin/v1/endpoints/orders/webhooks', {
        url: subscriptionUrl,
        environment: 'test',
      })
    ).data;
    secrets.push(sub.secret ?? '');
    secrets.push((await admin('GET', '/admin/v1/webhook-signing-secret')).data.secret ?? '');
    secrets.push((await admin('GET', `/admin/v1/keys/${key.id}/callback-signing-secret`)).data.secret ?? '');
    const callbackAuth = 'Bearer callback-auth-value-that-must-stay-secret';
    secrets.push(callbackAuth.slice(7));
    await fetch(`${base}/api/v1/data/orders`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${rolled.key}`,
        'content-type': 'application/json',
        'x-webhook-callback': callbackUrl,
        'x-webhook-auth': callbackAuth,
      },
      body: '{"a":1}',
    });
    // The dashboard: a session cookie, its CSRF token, an invite token, a collaborator's password,
    // a JWT and a test-page request (which mints a token for the key inside the server).
    const signIn = await fetch(`${base}/admin/v1/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'o@example.com', password }),
    });
    const cookie = (signIn.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
    const session = ((await signIn.json()) as { data: { csrf_token: string } }).data;
    secrets.push(cookie.slice('gatehouse_session='.length), session.csrf_token);
    const dashboard = async (method: string, path: string, body?: unknown) => {
      const res = await fetch(`${base}${path}`, {
        method,
        headers: { cookie, 'x-csrf-token': session.csrf_token, 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return (await res.json()) as { data: Record<string, string> };
    };
    const invite = (await dashboard('POST', '/admin/v1/invites', { email: 'c@example.com' })).data;
    const inviteToken = (invite.url ?? '').split('#/invite/')[1] ?? '';
    secrets.push(inviteToken);
    // The invite page looks the token up in a query string: logged as its path only.
    await fetch(`${base}/admin/v1/invites/lookup?token=${inviteToken}`);
    const collaboratorPassword = 'collaborator-password-that-must-stay-secret';
    secrets.push(collaboratorPassword);
    await fetch(`${base}/admin/v1/invites/accept`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token: inviteToken, password: collaboratorPassword }),
    });
    await dashboard('POST', '/admin/v1/test-requests', {
      key_id: key.id,
      method: 'POST',
      path: '/api/v1/data/orders',
      body: { b: 2 },
    });
    const jwt = await fetch(`${base}/api/v1/tokens`, {
      method: 'POST',
      headers: { authorization: `Bearer ${rolled.key}`, 'content-type': 'application/json' },
      body: '{}',
    });
    secrets.push(((await jwt.json()) as { data: { token: string } }).data.token);
    // Failures log too: bad keys, a bad token, a failing receiver, a validation error.
    await fetch(`${base}/api/v1/data/orders`, { headers: { authorization: `Bearer ${key.key}x` } });
    await fetch(`${base}/admin/v1/keys`, { headers: { authorization: `Bearer ${token}x` } });
    await receiver.waitFor(4, 15_000);
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));

    assert.ok(logs.length > 0, 'the run logged nothing');
    // At debug each answer is logged with its Request-Id, on Fastify's path and the fast path alike,
    // and never with a query string.
    assert.match(
      logs,
      /"request_id":"req_\w+","method":"GET","path":"\/api\/v1\/data\/orders","status":401,[^\n]*"msg":"request answered"/,
    );
    assert.match(
      logs,
      /"method":"POST","path":"\/api\/v1\/data\/orders","status":202,[^\n]*"msg":"request answered"/,
    );
    assert.doesNotMatch(logs, /"path":"[^"]*\?/);
    // A failed webhook attempt names the write that caused it, by its Request-Id.
    assert.match(logs, /"request_id":"req_\w+"[^\n]*"msg":"webhook attempt failed"/);
    for (const secret of secrets) {
      assert.ok(secret.length >= 16, 'a secret was not captured');
      assert.ok(!logs.includes(secret), `a secret leaked into the logs: ${secret.slice(0, 8)}…`);
    }
    assert.ok(logs.includes(`"origin":"${new URL(receiver.url).origin}"`), 'the failed target is named');
  });
});
