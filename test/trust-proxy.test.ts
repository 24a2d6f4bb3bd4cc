import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ConfigError, loadConfig } from '../src/config.ts';
import { generateSecret } from '../src/infra/crypto/token-format.ts';
import { databaseKinds } from './helpers/database.ts';
import { ordersSchema, startTestServer, type TestServer } from './helpers/server.ts';

const OWNER = { email: 'owner@example.com', password: 'correct horse battery' };

for (const kind of databaseKinds) {
  describe(`behind a trusted proxy (${kind})`, () => {
    let server: TestServer;
    let valid: string;
    before(async () => {
      // The tests' requests come from 127.0.0.1: that is the proxy here.
      server = await startTestServer(kind, {
        GATEHOUSE_TRUST_PROXY: '127.0.0.1',
        GATEHOUSE_AUTH_FAILURE_LIMIT: '4',
      });
      await server.createEndpoint({ slug: 'orders', name: 'Orders', schema: ordersSchema });
      valid = (await server.createKey({ name: 'partner', environment: 'test' })).key;
    });
    after(() => server.close());

    const from = (client: string, extra: Record<string, string> = {}) => ({
      'x-forwarded-for': client,
      ...extra,
    });
    const signIn = (client: string, body: { email: string; password: string }) =>
      server.request('POST', '/admin/v1/session', { json: body, headers: from(client) });

    test('one client guessing keys is blocked; another client behind the same proxy is not', async () => {
      for (let i = 0; i < 4; i++) {
        const res = await server.request('GET', '/api/v1/data/orders', {
          key: generateSecret('gk_test'),
          headers: from('203.0.113.66'),
        });
        assert.equal(res.status, 401);
      }
      const blocked = await server.request('POST', '/api/v1/data/orders', {
        key: generateSecret('gk_test'),
        json: { order_id: 'x', amount: 1 },
        headers: from('203.0.113.66'),
      });
      assert.equal(blocked.status, 429);
      // The partner, through the same proxy, on both the fast path (a plain create) and Fastify's.
      const created = await server.request('POST', '/api/v1/data/orders', {
        key: valid,
        json: { order_id: 'p', amount: 1 },
        headers: from('198.51.100.7'),
      });
      assert.equal(created.status, 202, created.text);
      const listed = await server.request('GET', '/api/v1/data/orders', {
        key: valid,
        headers: from('198.51.100.7'),
      });
      assert.equal(listed.status, 200);
      const fresh = await server.request('GET', '/api/v1/data/orders', {
        key: generateSecret('gk_test'),
        headers: from('198.51.100.7'),
      });
      assert.equal(fresh.status, 401, 'another client gets its own count');
    });

    test('an IPv6 client is counted per /64: rotating addresses within it does not escape the block', async () => {
      const guess = (client: string) =>
        server.request('GET', '/api/v1/data/orders', {
          key: generateSecret('gk_test'),
          headers: from(client),
        });
      for (let i = 1; i <= 4; i++) {
        const res = await guess(`2001:db8:66:1::${i}`);
        assert.equal(res.status, 401, `guess ${i} from its own address`);
      }
      // Other addresses of that /64, on the fast path (a plain create) and on Fastify's.
      const created = await server.request('POST', '/api/v1/data/orders', {
        key: generateSecret('gk_test'),
        json: { order_id: 'v6', amount: 1 },
        headers: from('2001:db8:66:1:abcd::1'),
      });
      assert.equal(created.status, 429, created.text);
      const listed = await guess('2001:DB8:66:1:ffff:ffff:ffff:ffff');
      assert.equal(listed.status, 429, listed.text);
      assert.equal(listed.body.code, 'too_many_failed_attempts', 'the /64 is blocked');
      // The next /64 is another client; so is each IPv4 address, in the mapped form too.
      assert.equal((await guess('2001:db8:66:2::1')).status, 401, 'another /64 is not blocked');
      for (let i = 1; i <= 4; i++) assert.equal((await guess(`192.0.2.${i}`)).status, 401, `IPv4 ${i}`);
      assert.equal((await guess('::ffff:192.0.2.5')).status, 401, 'IPv4-mapped: per address');
    });

    test('sign-ins: one address failing does not lock out the owner elsewhere; Secure cookie over https; audited address', async () => {
      for (let i = 0; i < 21; i++) {
        await server.request('POST', '/admin/v1/session', {
          json: { email: `nobody${i}@example.com`, password: 'wrong password' },
          headers: from('203.0.113.99'),
        });
      }
      const locked = await server.request('POST', '/admin/v1/session', {
        json: OWNER,
        headers: from('203.0.113.99'),
      });
      assert.equal(locked.status, 429);
      const owner = await server.request('POST', '/admin/v1/session', {
        json: OWNER,
        headers: from('198.51.100.20', { 'x-forwarded-proto': 'https' }),
      });
      assert.equal(owner.status, 200, owner.text);
      const cookie = owner.headers.get('set-cookie') ?? '';
      assert.match(cookie, /^__Host-gatehouse_session=[^;]+; Path=\/; HttpOnly; SameSite=Strict; Secure$/);
      const session = cookie.split(';')[0] as string;
      const overHttps = (cookieHeader: string) =>
        server.request('GET', '/admin/v1/session', {
          headers: from('198.51.100.20', { 'x-forwarded-proto': 'https', cookie: cookieHeader }),
        });
      assert.equal((await overHttps(session)).status, 200);
      // A cookie planted without the prefix (by a sibling subdomain, or over plain HTTP) is not
      // read over HTTPS, whatever session it holds.
      const value = session.slice('__Host-gatehouse_session='.length);
      assert.equal((await overHttps(`gatehouse_session=${value}`)).status, 401);
      // The real one wins over a planted one sent first.
      assert.equal((await overHttps(`gatehouse_session=planted; ${session}`)).status, 200);
      const audit = await server.services.database.db
        .selectFrom('audit_log')
        .select('ip')
        .where('action', '=', 'session.sign_in')
        .orderBy('at', 'desc')
        .executeTakeFirstOrThrow();
      assert.equal(audit.ip, '198.51.100.20');
    });

    test('sign-ins: an IPv6 client is counted per /64, rotating addresses within it does not escape the limits', async () => {
      // Trying many emails: 20 failures per client, each from a fresh address of one /64.
      for (let i = 1; i <= 20; i++) {
        const res = await signIn(`2001:db8:77:1::${i.toString(16)}`, {
          email: `nobody-v6-${i}@example.com`,
          password: 'wrong password',
        });
        assert.equal(res.status, 401, `failure ${i} from its own address`);
      }
      const rotated = await signIn('2001:DB8:77:1:ffff:ffff:ffff:ffff', OWNER);
      assert.equal(rotated.status, 429, rotated.text);
      assert.equal(
        rotated.body.code,
        'too_many_failed_attempts',
        'the /64 is locked, the right password too',
      );
      // The next /64 is another client; so is each IPv4 address, its neighbours too.
      assert.equal((await signIn('2001:db8:77:2::1', OWNER)).status, 200, 'another /64 signs in');
      for (let i = 1; i <= 21; i++) {
        const res = await signIn(`192.0.2.${100 + i}`, {
          email: `nobody-v4-${i}@example.com`,
          password: 'wrong password',
        });
        assert.equal(res.status, 401, `IPv4 neighbour ${i} is counted on its own`);
      }
      // Guessing one email's password: 5 failures per email and client, here the owner's.
      for (let i = 1; i <= 5; i++) {
        const res = await signIn(`2001:db8:88:1::${i}`, { email: OWNER.email, password: `guess-${i}` });
        assert.equal(res.status, 401, `guess ${i} from its own address`);
      }
      assert.equal((await signIn('2001:db8:88:1::6', OWNER)).status, 429, 'the /64 is locked for that email');
      assert.equal((await signIn('2001:db8:88:2::1', OWNER)).status, 200, 'the owner elsewhere is not');
      // The owner still sees each address the failures came from.
      const audit = await server.admin('GET', '/admin/v1/audit?action=session.sign_in_failed&limit=200');
      assert.equal(audit.status, 200, audit.text);
      const addresses = (audit.body.data as Array<{ ip: string }>).map((entry) => entry.ip);
      for (const ip of ['2001:db8:77:1::1', '2001:db8:77:1::14', '2001:db8:88:1::5', '192.0.2.121']) {
        assert.ok(addresses.includes(ip), `${ip} is in the audit log`);
      }
    });

    test('sign-ins: a /64 its user signed in from is spared the per-email lock, a new address in it too', async () => {
      assert.equal((await signIn('2001:db8:99:1::1', OWNER)).status, 200, 'the owner signs in at home');
      // 21 clients × 5 wrong passwords: past the 100 allowed for one email from everywhere.
      await Promise.all(
        Array.from({ length: 21 }, async (_, c) => {
          for (let i = 0; i < 5; i++) {
            await signIn(`2001:db8:aa:${c.toString(16)}::${i + 1}`, {
              email: OWNER.email,
              password: `spread-${c}-${i}`,
            });
          }
        }),
      );
      assert.equal((await signIn('198.51.100.44', OWNER)).status, 429, 'a new client is refused');
      // A day later the owner's device has a new temporary address, in the same /64.
      assert.equal(
        (await signIn('2001:db8:99:1:8c3e:2f1:a4b:9d0', OWNER)).status,
        200,
        'the home /64 is known',
      );
      await server.services.database.db
        .deleteFrom('audit_log')
        .where('action', '=', 'session.sign_in_failed')
        .where('target_id', '=', OWNER.email)
        .execute();
    });
  });

  describe(`without GATEHOUSE_TRUST_PROXY (${kind})`, () => {
    let server: TestServer;
    before(async () => {
      server = await startTestServer(kind, { GATEHOUSE_AUTH_FAILURE_LIMIT: '4' });
    });
    after(() => server.close());

    test('X-Forwarded-For from a direct client is ignored: spoofing it does not escape the block', async () => {
      for (let i = 0; i < 4; i++) {
        await server.request('GET', '/api/v1/account', {
          key: generateSecret('gk_test'),
          headers: { 'x-forwarded-for': `198.51.100.${i}` },
        });
      }
      const spoofed = await server.request('GET', '/api/v1/account', {
        key: generateSecret('gk_test'),
        headers: { 'x-forwarded-for': '192.0.2.200', 'x-forwarded-proto': 'https' },
      });
      assert.equal(spoofed.status, 429);
    });
  });
}

test('GATEHOUSE_TRUST_PROXY takes addresses or CIDRs; anything else is a ConfigError naming it', () => {
  assert.deepEqual(loadConfig({ GATEHOUSE_TRUST_PROXY: '10.0.0.0/8, 127.0.0.1' }).trustProxy, [
    '10.0.0.0/8',
    '127.0.0.1',
  ]);
  assert.deepEqual(loadConfig({}).trustProxy, []);
  for (const bad of ['true', '2', 'proxy.local', '10.0.0.0/33']) {
    assert.throws(
      () => loadConfig({ GATEHOUSE_TRUST_PROXY: bad }),
      (e: unknown) => e instanceof ConfigError && /GATEHOUSE_TRUST_PROXY/.test(e.message),
      bad,
    );
  }
});
