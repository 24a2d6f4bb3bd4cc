import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { freePort } from '../bench/lib.ts';
import { buildApp, createServices } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import { accessOf, ruleOf } from '../src/dashboard/access.ts';
import { hashPassword } from '../src/infra/crypto/hash.ts';
import { withoutAddresses } from '../src/webhooks/delivery-service.ts';
import { createTestDatabase, databaseKinds } from './helpers/database.ts';
import { type Receiver, startReceiver } from './helpers/receiver.ts';
import { type ApiResponse, ordersSchema, startTestServer, type TestServer } from './helpers/server.ts';

/** A sign-in sent from a chosen loopback address (the server sees it as another client). */
function signInFrom(
  localAddress: string,
  body: { email: string; password: string },
): Promise<{ status: number }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      signInUrl,
      { method: 'POST', localAddress, headers: { 'content-type': 'application/json' } },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0 }));
      },
    );
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}
let signInUrl = '';

const execFileAsync = promisify(execFile);

const LOOPBACK = { GATEHOUSE_WEBHOOK_ALLOW_NETS: '127.0.0.0/8' };
const OWNER = { email: 'owner@example.com', password: 'correct horse battery' };

interface Browser {
  cookie: string;
  csrf: string;
  userId: string;
  call(
    method: string,
    path: string,
    json?: unknown,
    options?: { csrf?: string | null },
  ): Promise<ApiResponse>;
}

function sessionCookie(res: ApiResponse): string {
  const header = res.headers.get('set-cookie') ?? '';
  const match = /gatehouse_session=([^;]*)/.exec(header);
  assert.ok(match?.[1], `no session cookie in ${header}`);
  return `gatehouse_session=${match[1]}`;
}

/** What the dashboard does: a cookie and the CSRF token of its session. */
function browser(server: TestServer, res: ApiResponse): Browser {
  const cookie = sessionCookie(res);
  const csrf = res.body.data.csrf_token as string;
  return {
    cookie,
    csrf,
    userId: res.body.data.user.id,
    call(method, path, json, options = {}) {
      const headers: Record<string, string> = { cookie };
      const token = options.csrf === undefined ? csrf : options.csrf;
      if (token !== null) headers['x-csrf-token'] = token;
      return server.request(method, path, { json, headers });
    },
  };
}

async function signIn(server: TestServer, email: string, password: string): Promise<Browser> {
  const res = await server.request('POST', '/admin/v1/session', { json: { email, password } });
  assert.equal(res.status, 200, res.text);
  return browser(server, res);
}

async function tableCounts(server: TestServer): Promise<Record<string, number>> {
  const db = server.services.database.db;
  const out: Record<string, number> = {};
  for (const table of [
    'endpoints',
    'endpoint_versions',
    'api_keys',
    'records',
    'webhook_subscriptions',
    'invites',
    'owners',
  ] as const) {
    const row = await db
      .selectFrom(table)
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirst();
    out[table] = Number(row?.n ?? 0);
  }
  return out;
}

for (const kind of databaseKinds) {
  describe(`dashboard API: sessions, roles, console, test page, audit (${kind})`, () => {
    let server: TestServer;
    let receiver: Receiver;
    let owner: Browser;
    let collaborator: Browser;
    let ownerTestKey: { id: string; key: string };

    before(async () => {
      server = await startTestServer(kind, LOOPBACK, { worker: true });
      signInUrl = `${server.url}/admin/v1/session`;
      receiver = await startReceiver();
      await server.createEndpoint({ slug: 'orders', name: 'Orders', schema: ordersSchema });
      assert.equal((await server.admin('POST', '/admin/v1/endpoints/orders/deploy')).status, 201);
      const sub = await server.admin('POST', '/admin/v1/endpoints/orders/webhooks', {
        url: receiver.url,
        environment: 'test',
      });
      assert.equal(sub.status, 201, sub.text);
      ownerTestKey = await server.createKey({ name: 'owner test', environment: 'test' });
    });
    after(async () => {
      await receiver.close();
      await server.close();
    });

    test('sign-in: wrong password is a 401 and recorded; the session cookie is HttpOnly and SameSite=Strict', async () => {
      const wrong = await server.request('POST', '/admin/v1/session', {
        json: { email: OWNER.email, password: 'nope' },
      });
      assert.equal(wrong.status, 401);
      assert.equal(wrong.body.code, 'invalid_credentials');
      assert.equal(wrong.headers.get('set-cookie'), null);
      const unknown = await server.request('POST', '/admin/v1/session', {
        json: { email: 'nobody@example.com', password: 'nope' },
      });
      assert.equal(unknown.status, 401);
      assert.equal(unknown.body.error, wrong.body.error, 'unknown email looks the same');
      const bad = await server.request('POST', '/admin/v1/session', { json: { email: OWNER.email } });
      assert.equal(bad.status, 400);

      const res = await server.request('POST', '/admin/v1/session', { json: OWNER });
      assert.equal(res.status, 200, res.text);
      const cookie = res.headers.get('set-cookie') ?? '';
      assert.match(cookie, /HttpOnly/);
      assert.match(cookie, /SameSite=Strict/);
      assert.match(cookie, /Path=\//);
      assert.equal(res.body.data.user.role, 'owner');
      assert.ok(res.body.data.csrf_token.length >= 32);
      owner = browser(server, res);
      const me = await owner.call('GET', '/admin/v1/session');
      assert.equal(me.status, 200);
      assert.equal(me.body.data.user.email, OWNER.email);
      assert.equal(me.body.data.csrf_token, owner.csrf);
    });

    test('no session or a made-up cookie is a 401; the setup call says whether to run init', async () => {
      assert.equal((await server.request('GET', '/admin/v1/session')).status, 401);
      const forged = await server.request('GET', '/admin/v1/keys', {
        headers: { cookie: 'gatehouse_session=forged' },
      });
      assert.equal(forged.status, 401);
      const setup = await server.request('GET', '/admin/v1/setup');
      assert.equal(setup.status, 200);
      assert.equal(setup.body.data.initialized, true);
      // HEAD follows its GET's rule: public here, as it is for GET.
      assert.equal((await server.request('HEAD', '/admin/v1/setup')).status, 200);
      assert.equal((await server.request('HEAD', '/admin/v1/keys')).status, 401);
      assert.match(setup.body.data.init_command, /gatehouse init/);
    });

    test('state-changing calls with the cookie need the CSRF token; nothing changes without it', async () => {
      const before = await tableCounts(server);
      for (const csrf of [null, 'wrong-token']) {
        const res = await owner.call('POST', '/admin/v1/keys', { name: 'x', environment: 'test' }, { csrf });
        assert.equal(res.status, 403, res.text);
        assert.equal(res.body.code, 'csrf_failed');
        const del = await owner.call('DELETE', '/admin/v1/endpoints/orders', undefined, { csrf });
        assert.equal(del.status, 403);
      }
      assert.deepEqual(await tableCounts(server), before);
      const ok = await owner.call('POST', '/admin/v1/keys', { name: 'with csrf', environment: 'test' });
      assert.equal(ok.status, 201, ok.text);
      assert.equal(ok.body.data.created_by, owner.userId);
      // The secret is in this answer only: no cache may keep it.
      assert.equal(ok.headers.get('cache-control'), 'no-store');
      assert.equal(ok.headers.get('x-content-type-options'), 'nosniff');
      // The CLI's bearer token needs no CSRF token.
      assert.equal((await server.admin('GET', '/admin/v1/keys')).status, 200);
    });

    test('invites: single use, expiring, and they make a collaborator who is signed in', async () => {
      const invite = await owner.call('POST', '/admin/v1/invites', { email: 'Collab@Example.com' });
      assert.equal(invite.status, 201, invite.text);
      const url = new URL(invite.body.data.url);
      const token = url.hash.replace('#/invite/', '');
      assert.ok(token.length >= 32);
      const listed = await owner.call('GET', '/admin/v1/invites');
      assert.equal(listed.body.data.length, 1);
      assert.equal(JSON.stringify(listed.body).includes(token), false, 'the token is shown once');

      const lookup = await server.request('GET', `/admin/v1/invites/lookup?token=${token}`);
      assert.equal(lookup.status, 200);
      assert.equal(lookup.body.data.email, 'collab@example.com');
      const short = await server.request('POST', '/admin/v1/invites/accept', {
        json: { token, password: 'short' },
      });
      assert.equal(short.status, 400);
      const accepted = await server.request('POST', '/admin/v1/invites/accept', {
        json: { token, password: 'collaborator password' },
      });
      assert.equal(accepted.status, 201, accepted.text);
      assert.equal(accepted.body.data.user.role, 'collaborator');
      collaborator = browser(server, accepted);
      const again = await server.request('POST', '/admin/v1/invites/accept', {
        json: { token, password: 'collaborator password' },
      });
      assert.equal(again.status, 404);
      assert.equal(again.body.code, 'invite_not_found');
      assert.equal((await server.request('GET', `/admin/v1/invites/lookup?token=${token}`)).status, 404);

      const expiring = await owner.call('POST', '/admin/v1/invites', { email: 'late@example.com' });
      await server.services.database.db
        .updateTable('invites')
        .set({ expires_at: new Date(Date.now() - 1000).toISOString() })
        .where('id', '=', expiring.body.data.id)
        .execute();
      const lateToken = new URL(expiring.body.data.url).hash.replace('#/invite/', '');
      const late = await server.request('POST', '/admin/v1/invites/accept', {
        json: { token: lateToken, password: 'late password 123' },
      });
      assert.equal(late.status, 404);
      const dup = await owner.call('POST', '/admin/v1/invites', { email: OWNER.email });
      assert.equal(dup.status, 409);

      // Guessed tokens are refused before the password is hashed (a hash costs ~a core for tens of
      // ms; anyone may call this route): 20 guesses cost less CPU than 5 hashes would.
      const started = process.cpuUsage();
      await hashPassword('one hash, to weigh the others against');
      const oneHash = process.cpuUsage(started);
      const perHash = oneHash.user + oneHash.system;
      const before = process.cpuUsage();
      const guesses = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          server.request('POST', '/admin/v1/invites/accept', {
            json: { token: `guess${i}${'x'.repeat(40)}`, password: 'p'.repeat(1024) },
          }),
        ),
      );
      const spent = process.cpuUsage(before);
      for (const guess of guesses) assert.equal(guess.body.code, 'invite_not_found');
      assert.ok(
        spent.user + spent.system < 5 * perHash,
        `${spent.user + spent.system} µs vs ${perHash} µs per hash`,
      );
    });

    test('every owner-only route in the route table refuses a collaborator, and nothing changes', async () => {
      const doc = (await server.admin('GET', '/admin/v1/openapi.json')).body as {
        paths: Record<string, Record<string, unknown>>;
      };
      const adminRoutes = Object.entries(doc.paths).flatMap(([path, methods]) =>
        Object.keys(methods).map((method) => ({ method: method.toUpperCase(), path })),
      );
      assert.ok(adminRoutes.length > 30, `only ${adminRoutes.length} management routes found`);
      const unruled = adminRoutes.filter(
        (r) => ruleOf(r.method, r.path.replace(/\{([^}]+)\}/g, ':$1')) === undefined,
      );
      assert.deepEqual(unruled, [], 'every management route has an access rule in src/dashboard/access.ts');
      const before = await tableCounts(server);
      let refused = 0;
      for (const route of adminRoutes) {
        const url = route.path.replace(/\{([^}]+)\}/g, ':$1');
        const access = accessOf(route.method, url);
        if (route.method === 'DELETE' && url === '/admin/v1/session') continue; // would sign out
        const path = route.path.replace(/\{slug\}/g, 'orders').replace(/\{[^}]+\}/g, 'x');
        const res = await collaborator.call(route.method, path, route.method === 'GET' ? undefined : {});
        if (access === 'owner') {
          assert.equal(res.status, 403, `${route.method} ${route.path}: ${res.text}`);
          assert.equal(res.body.code, 'forbidden');
          refused++;
        } else {
          assert.notEqual(res.status, 403, `${route.method} ${route.path} should be open to collaborators`);
        }
      }
      assert.ok(refused > 20, `${refused} refusals`);
      for (const path of ['/admin/v1/console/orders/records', '/admin/v1/audit', '/admin/v1/usage']) {
        assert.equal((await collaborator.call('GET', path)).status, 403, path);
      }
      assert.deepEqual(await tableCounts(server), before);
    });

    test("collaborators create test keys only and never see other people's keys", async () => {
      const live = await collaborator.call('POST', '/admin/v1/keys', { name: 'live', environment: 'live' });
      assert.equal(live.status, 403);
      const mine = await collaborator.call('POST', '/admin/v1/keys', { name: 'mine', environment: 'test' });
      assert.equal(mine.status, 201, mine.text);
      const list = await collaborator.call('GET', '/admin/v1/keys');
      assert.deepEqual(
        list.body.data.map((k: { id: string }) => k.id),
        [mine.body.data.id],
      );
      for (const [method, suffix] of [
        ['GET', ''],
        ['PATCH', ''],
        ['POST', '/revoke'],
        ['POST', '/deactivate'],
        ['POST', '/roll'],
      ] as const) {
        const res = await collaborator.call(
          method,
          `/admin/v1/keys/${ownerTestKey.id}${suffix}`,
          method === 'GET' ? undefined : {},
        );
        assert.equal(res.status, 404, `${method} ${suffix}`);
      }
      const ownerKey = await server.admin('GET', `/admin/v1/keys/${ownerTestKey.id}`);
      assert.equal(ownerKey.body.data.status, 'active');
      const roll = await collaborator.call('POST', `/admin/v1/keys/${mine.body.data.id}/roll`, {});
      assert.equal(roll.status, 200, roll.text);
      // A key's callback signing secret is the owner's to hand out, a collaborator's own key's too;
      // with the session or with a management token of their own.
      const cli = await collaborator.call('POST', '/admin/v1/tokens', { name: 'callback secret probe' });
      assert.equal(cli.status, 201, cli.text);
      for (const id of [mine.body.data.id, ownerTestKey.id]) {
        const path = `/admin/v1/keys/${id}/callback-signing-secret`;
        const bySession = await collaborator.call('GET', path);
        assert.equal(bySession.status, 403, bySession.text);
        assert.equal(bySession.body.code, 'forbidden');
        assert.equal((await server.request('GET', path, { token: cli.body.data.token })).status, 403);
        const byOwner = await owner.call('GET', path);
        assert.equal(byOwner.status, 200, byOwner.text);
        assert.match(byOwner.body.data.secret, /^whsec_/);
      }
      assert.equal((await collaborator.call('DELETE', `/admin/v1/tokens/${cli.body.data.id}`)).status, 200);
      const all = await server.admin('GET', '/admin/v1/keys');
      assert.ok(all.body.data.some((k: { created_by: string }) => k.created_by === collaborator.userId));
    });

    test('the test page sends as a test key without its secret, keeps history, and refuses live keys', async () => {
      const sent = await owner.call('POST', '/admin/v1/test-requests', {
        key_id: ownerTestKey.id,
        method: 'POST',
        path: '/api/v1/data/orders',
        headers: { 'X-Request-Note': 'from the test page' },
        body: { order_id: 'T-1', amount: 5 },
      });
      assert.equal(sent.status, 201, sent.text);
      assert.equal(sent.body.data.status, 202);
      assert.equal(sent.body.data.body.message, 'Request queued');
      assert.ok(sent.body.data.duration_ms >= 0);
      assert.match(sent.body.data.curl, /\$GATEHOUSE_KEY/);
      assert.match(sent.body.data.curl, /order_id/);
      assert.equal(sent.text.includes(ownerTestKey.key), false);
      const recordId = sent.body.data.body.id;
      const stored = await server.request('GET', `/api/v1/data/orders/${recordId}`, {
        key: ownerTestKey.key,
      });
      assert.equal(stored.status, 200);

      const invalid = await owner.call('POST', '/admin/v1/test-requests', {
        key_id: ownerTestKey.id,
        method: 'POST',
        path: '/api/v1/data/orders',
        body: { amount: 'x' },
      });
      assert.equal(invalid.status, 201);
      assert.equal(invalid.body.data.status, 400);
      assert.equal(invalid.body.data.body.code, 'validation_failed');

      // An integer past 2^53 goes out and comes back digit for digit (the answer as its JSON text).
      const long = await owner.call('POST', '/admin/v1/test-requests', {
        key_id: ownerTestKey.id,
        method: 'POST',
        path: '/api/v1/data/orders',
        body: '{"order_id":"T-L","amount":12345678901234567}',
      });
      assert.equal(long.body.data.status, 202, long.text);
      // Sent as a JSON object holding it (not as text): kept exactly in the answer and the history.
      const asObject = await fetch(`${server.url}/admin/v1/test-requests`, {
        method: 'POST',
        headers: { authorization: `Bearer ${server.token}`, 'content-type': 'application/json' },
        body: `{"key_id":"${ownerTestKey.id}","method":"POST","path":"/api/v1/data/orders","body":{"order_id":"T-M","amount":12345678901234567}}`,
      });
      const asObjectText = await asObject.text();
      assert.equal(asObject.status, 201, asObjectText);
      assert.match(asObjectText, /"amount\\":12345678901234567[,}]/);
      assert.doesNotMatch(asObjectText, /12345678901234568/);
      const readBack = await owner.call('POST', '/admin/v1/test-requests', {
        key_id: ownerTestKey.id,
        method: 'GET',
        path: `/api/v1/data/orders/${long.body.data.body.id}`,
      });
      assert.equal(readBack.body.data.status, 200, readBack.text);
      assert.equal(typeof readBack.body.data.body, 'string');
      assert.match(readBack.body.data.body, /"amount":12345678901234567[,}]/);

      // Headers no HTTP client could send are refused, and nothing is sent or written.
      const requests = async () =>
        Number(
          (
            await server.services.database.db
              .selectFrom('requests')
              .select((eb) => eb.fn.countAll<number>().as('n'))
              .executeTakeFirstOrThrow()
          ).n,
        );
      const requestsBefore = await requests();
      for (const headers of [
        { 'X-Webhook-Callback': 'http://127.0.0.1:9/hook', 'X-Webhook-Auth': 'Bearer tok\u0100en' },
        { 'X-Note': 'line\u0001feed' },
        { 'Bad Name': 'x' },
      ]) {
        const refused = await owner.call('POST', '/admin/v1/test-requests', {
          key_id: ownerTestKey.id,
          method: 'POST',
          path: '/api/v1/data/orders',
          headers,
          body: { order_id: 'T-bad', amount: 5 },
        });
        assert.equal(refused.status, 400, refused.text);
        assert.equal(refused.body.code, 'invalid_request');
        assert.equal(refused.body.details[0].field, `headers.${Object.keys(headers).at(-1)}`);
      }
      assert.equal(await requests(), requestsBefore);

      const history = await owner.call('GET', '/admin/v1/test-requests?limit=5');
      const mine = history.body.data.filter((h: { key_id: string }) => h.key_id === ownerTestKey.id);
      assert.ok(mine.length >= 4, 'three of them the long-integer round trips');
      assert.equal(mine.at(-1).body.message, 'Request queued');
      // The history holds the same objects as the answers (whole milliseconds in both).
      assert.deepEqual(
        history.body.data.find((h: { id: string }) => h.id === sent.body.data.id),
        sent.body.data,
      );
      assert.ok(Number.isInteger(sent.body.data.duration_ms), `${sent.body.data.duration_ms}`);

      // A callback credential typed on the test page is sent, but not kept or shown again.
      const withAuth = await owner.call('POST', '/admin/v1/test-requests', {
        key_id: ownerTestKey.id,
        method: 'GET',
        path: '/api/v1/data/orders',
        headers: { 'X-Webhook-Auth': 'Bearer PARTNER_SECRET_123', 'X-Webhook-Auth-Header': 'X-Partner' },
      });
      assert.equal(withAuth.status, 201, withAuth.text);
      assert.equal(withAuth.text.includes('PARTNER_SECRET_123'), false);
      assert.equal(withAuth.body.data.request.headers['X-Webhook-Auth-Header'], 'X-Partner');
      const rows = await server.services.database.db.selectFrom('test_requests').selectAll().execute();
      assert.equal(JSON.stringify(rows).includes('PARTNER_SECRET_123'), false, 'stored in clear');
      await server.services.database.db
        .deleteFrom('test_requests')
        .where('id', '=', withAuth.body.data.id)
        .execute();

      const liveKey = await server.createKey({ name: 'live', environment: 'live' });
      const live = await owner.call('POST', '/admin/v1/test-requests', {
        key_id: liveKey.id,
        method: 'GET',
        path: '/api/v1/data/orders',
      });
      assert.equal(live.status, 400);
      const auth = await owner.call('POST', '/admin/v1/test-requests', {
        key_id: ownerTestKey.id,
        method: 'GET',
        path: '/api/v1/data/orders',
        headers: { Authorization: 'Bearer something' },
      });
      assert.equal(auth.status, 400);
      const outside = await owner.call('POST', '/admin/v1/test-requests', {
        key_id: ownerTestKey.id,
        method: 'GET',
        path: '/admin/v1/keys',
      });
      assert.equal(outside.status, 400);
      for (const path of ['/api/v1/../../admin/v1/keys', '/api/v1/%2e%2e/%2e%2e/admin/v1/keys']) {
        const escaped = await owner.call('POST', '/admin/v1/test-requests', {
          key_id: ownerTestKey.id,
          method: 'GET',
          path,
        });
        assert.ok([400, 404].includes(escaped.status), `${path}: ${escaped.text}`);
        assert.equal(escaped.text.includes('"object":"api_key"'), false);
      }
      const othersKey = await collaborator.call('POST', '/admin/v1/test-requests', {
        key_id: ownerTestKey.id,
        method: 'GET',
        path: '/api/v1/data/orders',
      });
      assert.equal(othersKey.status, 404);
      assert.equal((await collaborator.call('GET', '/admin/v1/test-requests')).body.data.length, 0);
    });

    test("the test page's curl command runs as shown: quotes in the body, brackets in the query", async () => {
      const run = async (curl: string) => {
        const { stdout } = await execFileAsync('bash', ['-c', curl], {
          env: { ...process.env, GATEHOUSE_KEY: ownerTestKey.key },
        });
        return JSON.parse(stdout);
      };
      const orderId = `it's curl ${Date.now()}`;
      const created = await owner.call('POST', '/admin/v1/test-requests', {
        key_id: ownerTestKey.id,
        method: 'POST',
        path: '/api/v1/data/orders',
        body: { order_id: orderId, amount: 4242 },
      });
      assert.equal(created.body.data.status, 202, created.text);
      const copied = await run(created.body.data.curl);
      assert.equal(copied.message, 'Request queued');
      const stored = await server.request('GET', `/api/v1/data/orders/${copied.id}`, {
        key: ownerTestKey.key,
      });
      assert.equal(stored.body.data.data.order_id, orderId, 'the copied command sent the same body');

      const listed = await owner.call('POST', '/admin/v1/test-requests', {
        key_id: ownerTestKey.id,
        method: 'GET',
        path: '/api/v1/data/orders?limit=5&filter[amount]=4242',
      });
      assert.equal(listed.body.data.status, 200, listed.text);
      assert.match(listed.body.data.curl, /--globoff/);
      const page = await run(listed.body.data.curl);
      assert.equal(page.success, true);
      assert.deepEqual(
        page.data.map((r: { data: { order_id: string } }) => r.data.order_id).sort(),
        [orderId, orderId],
        'both records of amount 4242: the one the test page sent and the one its curl sent',
      );

      // A filter value as typed on the test page, spaces and all: the command still runs.
      const filtered = await owner.call('POST', '/admin/v1/test-requests', {
        key_id: ownerTestKey.id,
        method: 'GET',
        path: `/api/v1/data/orders?filter[order_id]=${orderId}`,
      });
      assert.equal(filtered.body.data.body.data.length, 2, filtered.text);
      const same = await run(filtered.body.data.curl);
      assert.equal(same.data.length, 2, 'the copied command finds what the test page found');
    });

    test("deliveries: a collaborator sees and redelivers only their own keys' callbacks, never the owner's subscriptions", async () => {
      const mine = await collaborator.call('POST', '/admin/v1/keys', { name: 'hooks', environment: 'test' });
      const sent = await collaborator.call('POST', '/admin/v1/test-requests', {
        key_id: mine.body.data.id,
        method: 'POST',
        path: '/api/v1/data/orders',
        headers: { 'X-Webhook-Callback': `${receiver.url}/mine` },
        body: { order_id: 'C-1', amount: 1 },
      });
      assert.equal(sent.body.data.status, 202, sent.text);
      const recordId = sent.body.data.body.id;
      // The owner's earlier write, and this one twice: its callback and the owner's subscription.
      await receiver.waitFor(3);
      let own: ApiResponse | undefined;
      for (let i = 0; i < 100; i++) {
        own = await collaborator.call('GET', '/admin/v1/deliveries');
        if (own.body.data.length > 0) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.ok(own);
      assert.deepEqual(
        own.body.data.map((d: { record_id: string; subscription_id: string | null }) => [
          d.record_id,
          d.subscription_id,
        ]),
        [[recordId, null]],
      );
      const all = await server.admin('GET', '/admin/v1/deliveries');
      const others = all.body.data.filter(
        (d: { id: string }) => !own?.body.data.some((o: { id: string }) => o.id === d.id),
      );
      // The owner's write's subscription delivery, and the subscription's delivery of this very record.
      assert.ok(
        others.some(
          (d: { record_id: string; subscription_id: string | null }) =>
            d.record_id === recordId && d.subscription_id,
        ),
        "the owner sees the subscription delivery of the collaborator's record",
      );
      for (const other of others) {
        assert.equal((await collaborator.call('GET', `/admin/v1/deliveries/${other.id}`)).status, 404);
        assert.equal(
          (await collaborator.call('POST', `/admin/v1/deliveries/${other.id}/redeliver`, {})).status,
          404,
        );
      }
      const redo = await collaborator.call(
        'POST',
        `/admin/v1/deliveries/${own.body.data[0].id}/redeliver`,
        {},
      );
      assert.equal(redo.status, 202, redo.text);
      await receiver.waitFor(4);

      // An attempt's error names the address it reached: the owner sees it, a collaborator does not
      // (their callback URLs would otherwise map the installation's network).
      const closed = await freePort();
      const refused = await collaborator.call('POST', '/admin/v1/test-requests', {
        key_id: mine.body.data.id,
        method: 'POST',
        path: '/api/v1/data/orders',
        headers: { 'X-Webhook-Callback': `http://127.0.0.1:${closed}/nobody` },
        body: { order_id: 'C-2', amount: 1 },
      });
      const refusedRecord = refused.body.data.body.id;
      const errorsSeen = async (caller: (m: string, p: string) => Promise<ApiResponse>) => {
        for (let i = 0; i < 200; i++) {
          const list = await caller('GET', `/admin/v1/deliveries?record_id=${refusedRecord}`);
          const callback = list.body.data.find((d: { target: string }) => d.target === 'callback');
          if (callback?.attempts.length > 0) return callback;
          await new Promise((r) => setTimeout(r, 50));
        }
        throw new Error('no attempt recorded');
      };
      const asOwner = await errorsSeen((m, p) => server.admin(m, p));
      assert.match(asOwner.attempts[0].error, new RegExp(`127\\.0\\.0\\.1:${closed}`));
      const asCollaborator = await errorsSeen((m, p) => collaborator.call(m, p));
      // The URL is theirs, as they wrote it; what it reached is not.
      assert.doesNotMatch(
        JSON.stringify([asCollaborator.attempts, asCollaborator.last_error]),
        /127\.0\.0\.1/,
      );
      assert.match(asCollaborator.attempts[0].error, /\[address\]/);
      // A name that resolves inward and one that resolves nowhere read alike.
      for (const error of [
        'refused target vm: 127.0.0.1 is loopback',
        // An address written in the URL itself (post-json.ts), not a name that resolved to it.
        'refused target: 127.0.0.1 is a private, loopback, link-local or reserved address (allow it with GATEHOUSE_WEBHOOK_ALLOW_NETS)',
        'getaddrinfo ENOTFOUND db.internal',
        'getaddrinfo EAI_AGAIN db.internal',
      ])
        assert.equal(withoutAddresses(error), 'could not reach a public address', error);
      assert.equal(withoutAddresses('connect ECONNREFUSED [::1]:22'), 'connect ECONNREFUSED [address]');
      assert.equal(withoutAddresses('connect ECONNREFUSED fe80::1:8080'), 'connect ECONNREFUSED [address]');
      assert.equal(withoutAddresses('HTTP 500 after 3000 ms'), 'HTTP 500 after 3000 ms');
      assert.equal(withoutAddresses('HTTP 500 at 12:30:45'), 'HTTP 500 at 12:30:45');
    });

    test('the production console writes live records at once, validated, with no webhooks', async () => {
      const db = server.services.database.db;
      const live = await server.createKey({ name: 'live partner', environment: 'live' });
      const liveSub = await server.admin('POST', '/admin/v1/endpoints/orders/webhooks', {
        url: receiver.url,
        environment: 'live',
      });
      assert.equal(liveSub.status, 201);
      const invalid = await owner.call('POST', '/admin/v1/console/orders/records', { amount: -1 });
      assert.equal(invalid.status, 400);
      assert.equal(invalid.body.code, 'validation_failed');
      const created = await owner.call('POST', '/admin/v1/console/orders/records', {
        order_id: 'L-1',
        amount: 10,
      });
      assert.equal(created.status, 201, created.text);
      const id = created.body.data.id;
      assert.equal(created.body.data.data.order_id, 'L-1');
      await owner.call('POST', '/admin/v1/console/orders/records', { order_id: 'L-2', amount: 20 });
      // Partners with live keys see console writes at once.
      const seen = await server.request('GET', `/api/v1/data/orders/${id}`, { key: live.key });
      assert.equal(seen.status, 200);
      const page = await owner.call('GET', '/admin/v1/console/orders/records?limit=1');
      assert.equal(page.body.data.length, 1);
      assert.ok(page.body.meta.next_cursor);
      const next = await owner.call(
        'GET',
        `/admin/v1/console/orders/records?limit=1&after=${page.body.meta.next_cursor}`,
      );
      assert.equal(next.body.data[0].id, id);
      const filtered = await owner.call('GET', '/admin/v1/console/orders/records?filter[order_id]=L-2');
      assert.equal(filtered.body.data.length, 1);
      assert.equal(filtered.body.data[0].data.amount, 20);
      const replaced = await owner.call('PUT', `/admin/v1/console/orders/records/${id}`, {
        order_id: 'L-1',
        amount: 11,
      });
      assert.equal(replaced.status, 200, replaced.text);
      assert.equal(replaced.body.data.data.amount, 11);
      const badReplace = await owner.call('PUT', `/admin/v1/console/orders/records/${id}`, { amount: 'x' });
      assert.equal(badReplace.status, 400);
      assert.equal(
        (await owner.call('GET', `/admin/v1/console/orders/records/${id}`)).body.data.data.amount,
        11,
      );
      assert.equal((await owner.call('DELETE', `/admin/v1/console/orders/records/${id}`)).status, 200);
      assert.equal((await owner.call('GET', `/admin/v1/console/orders/records/${id}`)).status, 404);
      assert.equal((await owner.call('DELETE', `/admin/v1/console/orders/records/${id}`)).status, 404);
      // Test records are not in the live console.
      const testRecords = await owner.call('GET', '/admin/v1/console/orders/records?limit=100');
      assert.equal(testRecords.body.data.length, 1);

      const requests = await db
        .selectFrom('requests')
        .select(['source'])
        .where('record_id', '=', id)
        .execute();
      // Its create, replace and delete on PostgreSQL; none on SQLite, where a write nobody is told
      // of keeps no outbox row, and console writes fire no webhooks.
      assert.equal(requests.length, kind === 'sqlite' ? 0 : 3, 'the console writes of the record');
      assert.ok(
        requests.every((r) => r.source === 'console'),
        'each outbox row says it came from the console',
      );
      // A live API write is delivered; none of the console writes were.
      const apiWrite = await server.request('POST', '/api/v1/data/orders', {
        key: live.key,
        json: { order_id: 'L-3', amount: 3 },
      });
      assert.equal(apiWrite.status, 202);
      const received = await receiver.waitFor(4);
      await new Promise((r) => setTimeout(r, 300));
      const liveDeliveries = await db
        .selectFrom('webhook_deliveries')
        .select('record_id')
        .where('environment', '=', 'live')
        .execute();
      assert.deepEqual(
        liveDeliveries.map((d) => d.record_id),
        [apiWrite.body.id],
      );
      assert.equal(received.filter((r) => r.body.includes('L-1') || r.body.includes('L-2')).length, 0);
    });

    test('the audit log records who did what, filterable and paginated', async () => {
      const all = await owner.call('GET', '/admin/v1/audit?limit=200');
      assert.equal(all.status, 200);
      const actions = new Set(all.body.data.map((e: { action: string }) => e.action));
      for (const action of [
        'session.sign_in',
        'session.sign_in_failed',
        'key.create',
        'key.roll',
        'invite.create',
        'invite.accept',
        'console.create',
        'console.replace',
        'console.delete',
        'webhook.create',
        'delivery.redeliver',
      ]) {
        assert.ok(actions.has(action), `${action} is logged`);
      }
      const keys = await owner.call('GET', '/admin/v1/audit?action=key');
      assert.ok(keys.body.data.length > 0);
      assert.ok(keys.body.data.every((e: { action: string }) => e.action.startsWith('key.')));
      const byCollaborator = await owner.call('GET', '/admin/v1/audit?actor=collab@example.com');
      assert.ok(byCollaborator.body.data.length > 0);
      assert.ok(
        byCollaborator.body.data.every((e: { actor: { id: string } }) => e.actor.id === collaborator.userId),
      );
      const consoleCreate = all.body.data.find((e: { action: string }) => e.action === 'console.create');
      assert.equal(consoleCreate.actor.email, OWNER.email);
      assert.equal(consoleCreate.details.endpoint, 'orders');
      assert.match(consoleCreate.target_id, /^rec_/);
      // A subscription made is the target (it was the endpoint's slug, alike for every one).
      const subscribed = all.body.data.find((e: { action: string }) => e.action === 'webhook.create');
      assert.match(subscribed.target_id, /^whk_/);
      assert.equal(subscribed.details.endpoint, 'orders');
      // A key's entries name it: its id alone tells a reader of the log nothing.
      const keyNames = new Map<string, string>(
        (await server.admin('GET', '/admin/v1/keys')).body.data.map((k: { id: string; name: string }) => [
          k.id,
          k.name,
        ]),
      );
      const keyEntries = all.body.data.filter((e: { action: string }) => e.action.startsWith('key.'));
      assert.ok(keyEntries.some((e: { action: string }) => e.action === 'key.roll'));
      for (const entry of keyEntries) {
        assert.match(entry.target_id, /^key_/);
        assert.equal(entry.details?.name, keyNames.get(entry.target_id), `${entry.action} names its key`);
      }

      const first = await owner.call('GET', '/admin/v1/audit?limit=2');
      const second = await owner.call('GET', `/admin/v1/audit?limit=2&after=${first.body.meta.next_cursor}`);
      assert.deepEqual(
        [...first.body.data, ...second.body.data].map((e: { id: string }) => e.id),
        all.body.data.slice(0, 4).map((e: { id: string }) => e.id),
      );
      assert.equal((await owner.call('GET', '/admin/v1/audit?limit=0')).status, 400);
      assert.equal((await owner.call('GET', '/admin/v1/audit?after=garbage')).status, 400);
    });

    test('removing a collaborator ends their session and revokes their keys', async () => {
      const keys = await server.admin('GET', '/admin/v1/keys');
      const theirs = keys.body.data.filter(
        (k: { created_by: string }) => k.created_by === collaborator.userId,
      );
      assert.ok(theirs.length > 0);
      const users = await owner.call('GET', '/admin/v1/collaborators');
      assert.equal(users.body.data.length, 2);
      assert.equal((await owner.call('DELETE', `/admin/v1/collaborators/${owner.userId}`)).status, 404);
      const removed = await owner.call('DELETE', `/admin/v1/collaborators/${collaborator.userId}`);
      assert.equal(removed.status, 200, removed.text);
      assert.equal((await collaborator.call('GET', '/admin/v1/session')).status, 401);
      const after = await server.admin('GET', '/admin/v1/keys');
      for (const key of after.body.data.filter(
        (k: { created_by: string }) => k.created_by === collaborator.userId,
      )) {
        assert.equal(key.status, 'revoked');
      }
    });

    test('sign-out ends the session server-side; expired sessions are refused', async () => {
      const second = await signIn(server, OWNER.email, OWNER.password);
      await server.services.database.db
        .updateTable('sessions')
        .set({ expires_at: new Date(Date.now() - 1000).toISOString() })
        .where('csrf_token', '=', second.csrf)
        .execute();
      assert.equal((await second.call('GET', '/admin/v1/session')).status, 401);
      const out = await owner.call('DELETE', '/admin/v1/session');
      assert.equal(out.status, 200);
      assert.match(out.headers.get('set-cookie') ?? '', /Max-Age=0/);
      assert.equal((await owner.call('GET', '/admin/v1/keys')).status, 401);
    });

    test('failed sign-ins are throttled per email, even for the right password afterwards', async () => {
      for (let i = 0; i < 5; i++) {
        const res = await server.request('POST', '/admin/v1/session', {
          json: { email: 'throttled@example.com', password: `guess-${i}` },
        });
        assert.equal(res.status, 401);
      }
      const blocked = await server.request('POST', '/admin/v1/session', {
        json: { email: 'throttled@example.com', password: 'guess-x' },
      });
      assert.equal(blocked.status, 429);
      assert.equal(blocked.body.code, 'too_many_failed_attempts');
      assert.ok(Number(blocked.headers.get('retry-after')) > 0);
      // The owner's own account, failed before in this suite only twice, still signs in.
      assert.equal((await server.request('POST', '/admin/v1/session', { json: OWNER })).status, 200);
    });

    test('wrong passwords from one address do not lock the user out from another', async () => {
      for (let i = 0; i < 6; i++) {
        const res = await signInFrom('127.0.0.4', { email: OWNER.email, password: `attacker-${i}` });
        assert.equal(res.status, i < 5 ? 401 : 429, `attempt ${i}`);
      }
      // The attacker's address stays locked for this email, the right password included...
      assert.equal((await signInFrom('127.0.0.4', OWNER)).status, 429);
      // ...while the owner, elsewhere, signs in.
      assert.equal((await signInFrom('127.0.0.5', OWNER)).status, 200);
    });

    test('guessing spread over many addresses locks the email out, but not where its user signs in', async () => {
      // 21 addresses × 5 wrong passwords: past the 100 allowed for one email from everywhere.
      await Promise.all(
        Array.from({ length: 21 }, async (_, a) => {
          for (let i = 0; i < 5; i++) {
            await signInFrom(`127.0.1.${a + 1}`, { email: OWNER.email, password: `spread-${a}-${i}` });
          }
        }),
      );
      // A new address is refused, the right password included...
      assert.equal((await signInFrom('127.0.2.1', OWNER)).status, 429);
      // ...but the owner signed in from 127.0.0.5 lately (the test before): it still works there.
      assert.equal((await signInFrom('127.0.0.5', OWNER)).status, 200);
      await server.services.database.db
        .deleteFrom('audit_log')
        .where('action', '=', 'session.sign_in_failed')
        .where('target_id', '=', OWNER.email)
        .execute();
    });

    test('parallel sign-ins cannot outrun the limit: at most 5 passwords are checked per email', async () => {
      const burst = await Promise.all(
        Array.from({ length: 30 }, (_, i) =>
          server.request('POST', '/admin/v1/session', {
            json: { email: 'burst@example.com', password: `parallel-guess-${i}` },
          }),
        ),
      );
      const checked = burst.filter((r) => r.status === 401).length;
      // Each attempt is recorded before it counts the others, so a burst that lands at once may
      // be refused whole (none checked): never more than 5 checked is the promise.
      assert.ok(checked <= 5, `${checked} passwords were checked`);
      assert.ok(burst.every((r) => r.status === 401 || r.status === 429));
      const failures = await server.services.database.db
        .selectFrom('audit_log')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('action', '=', 'session.sign_in_failed')
        .where('target_id', '=', 'burst@example.com')
        .executeTakeFirstOrThrow();
      assert.equal(Number(failures.n), checked, 'refused attempts are not failures');
      assert.equal((await server.request('POST', '/admin/v1/session', { json: OWNER })).status, 200);
    });

    test('the dashboard page is served with a strict Content-Security-Policy', async () => {
      const res = await server.request('GET', '/');
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /text\/html/);
      const csp = res.headers.get('content-security-policy') ?? '';
      assert.match(csp, /default-src 'self'/);
      assert.match(csp, /script-src 'self'(;|$)/);
      assert.match(csp, /frame-ancestors 'none'/);
      assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
      assert.equal(res.headers.get('x-frame-options'), 'DENY');
      assert.equal(res.headers.get('referrer-policy'), 'no-referrer');
      // Unknown paths keep the JSON 404 envelope.
      const missing = await server.request('GET', '/no-such-page');
      assert.equal(missing.status, 404);
      assert.equal(missing.body.success, false);
    });

    test("accepting an invite takes the email's other invites off the pending list", async () => {
      const tokenOf = (res: ApiResponse) => new URL(res.body.data.url).hash.replace('#/invite/', '');
      const first = await server.admin('POST', '/admin/v1/invites', { email: 'twice@example.com' });
      const second = await server.admin('POST', '/admin/v1/invites', { email: 'twice@example.com' });
      assert.equal(second.status, 201, second.text);
      const accepted = await server.request('POST', '/admin/v1/invites/accept', {
        json: { token: tokenOf(second), password: 'twice password 1' },
      });
      assert.equal(accepted.status, 201, accepted.text);
      // The first link can no longer make an account (the email has one): not pending, not valid.
      const pending = await server.admin('GET', '/admin/v1/invites');
      assert.deepEqual(
        pending.body.data.filter((i: { email: string }) => i.email === 'twice@example.com'),
        [],
      );
      const lookup = await server.request('GET', `/admin/v1/invites/lookup?token=${tokenOf(first)}`);
      assert.equal(lookup.status, 404);
      assert.equal(lookup.body.code, 'invite_not_found');
    });
  });
}

describe('dashboard before `gatehouse init`', () => {
  test('says which command makes the first owner, and nobody can sign in', async () => {
    const database = await createTestDatabase('sqlite');
    const services = await createServices(
      loadConfig({ DATABASE_URL: database.url, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent' }),
    );
    const app = buildApp(services, { logger: false });
    try {
      const setup = await app.inject({ method: 'GET', url: '/admin/v1/setup' });
      assert.equal(setup.statusCode, 200);
      assert.equal(setup.json().data.initialized, false);
      assert.equal(setup.json().data.init_command, 'npx gatehouse init --email you@example.com');
      const signIn = await app.inject({ method: 'POST', url: '/admin/v1/session', payload: OWNER });
      assert.equal(signIn.statusCode, 401);
    } finally {
      await app.close();
      await services.close();
      await database.drop();
    }
  });
});
