import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { databaseKinds } from './helpers/database.ts';
import { managementCli } from './helpers/process.ts';
import { type Receiver, startReceiver } from './helpers/receiver.ts';
import { ordersSchema, startTestServer, type TestServer } from './helpers/server.ts';

const order = { order_id: 'ORD-1', amount: 100 };
const DAY_MS = 86_400_000;

interface Delivery {
  body: string;
  headers: Record<string, string>;
}

const verifies = (secret: string, delivery: Delivery) => {
  try {
    new Webhook(secret).verify(delivery.body, delivery.headers);
    return true;
  } catch {
    return false;
  }
};

for (const kind of databaseKinds) {
  describe(`rotating one key's callback signing secret (${kind})`, () => {
    let server: TestServer;
    let receiver: Receiver;
    const cli = (...args: string[]) => managementCli(server)(...args);

    before(async () => {
      server = await startTestServer(kind, { GATEHOUSE_WEBHOOK_ALLOW_NETS: '127.0.0.0/8' }, { worker: true });
      receiver = await startReceiver();
      await server.createEndpoint({ slug: 'orders', name: 'Orders', schema: ordersSchema });
    });
    after(async () => {
      await server.close();
      await receiver.close();
    });

    const accountSecret = async (key: string) =>
      (await server.request('GET', '/api/v1/account', { key })).body.data.callback_signing_secret as string;
    const ownerView = async (id: string) =>
      (await server.admin('GET', `/admin/v1/keys/${id}/callback-signing-secret`)).body.data;

    /** The one callback a write with `key` makes now. */
    async function callbackOf(key: string): Promise<Delivery> {
      const seen = receiver.received.length;
      const res = await server.request('POST', '/api/v1/data/orders', {
        key,
        json: order,
        headers: { 'x-webhook-callback': receiver.url },
      });
      assert.equal(res.status, 202, res.text);
      const got = (await receiver.waitFor(seen + 1))[seen];
      assert.ok(got);
      return { body: got.body, headers: got.headers as Record<string, string> };
    }

    test('an unrotated key keeps the secret keys had before rotation existed', async () => {
      const { id, key } = await server.createKey({ name: 'never-rotated', environment: 'test' });
      const root = (await server.admin('GET', '/admin/v1/webhook-signing-secret')).body.data.secret as string;
      const expected = `whsec_${createHmac('sha256', Buffer.from(root.slice(6), 'base64'))
        .update(`gatehouse/callback-signing-secret/v1:${id}`)
        .digest('base64')}`;
      assert.equal(await accountSecret(key), expected);
      assert.equal((await ownerView(id)).previous_secret_expires_at, null);
    });

    test('after a rotation the new secret is shown everywhere, and both sign until the overlap ends', async () => {
      const { id, key } = await server.createKey({ name: 'rotated', environment: 'test' });
      const other = await server.createKey({ name: 'bystander', environment: 'test' });
      const old = await accountSecret(key);
      const othersBefore = await accountSecret(other.key);

      const rotated = await server.admin('POST', `/admin/v1/keys/${id}/rotate-callback-secret`, {});
      assert.equal(rotated.status, 200, rotated.text);
      const data = rotated.body.data;
      assert.equal(data.object, 'callback_signing_secret');
      assert.equal(data.key_id, id);
      assert.match(data.secret, /^whsec_/);
      assert.equal(Buffer.from(data.secret.slice(6), 'base64').length, 32);
      assert.notEqual(data.secret, old);
      const overlap = Date.parse(data.previous_secret_expires_at) - Date.now();
      assert.ok(overlap > DAY_MS - 60_000 && overlap <= DAY_MS, data.previous_secret_expires_at);

      // The owner and the key itself read the new secret; another key's is untouched.
      assert.deepEqual(await ownerView(id), data);
      assert.equal(await accountSecret(key), data.secret);
      assert.equal(await accountSecret(other.key), othersBefore);

      // During the overlap a callback carries both signatures: a receiver holding either accepts it.
      const during = await callbackOf(key);
      assert.equal(during.headers['webhook-signature']?.split(' ').length, 2);
      assert.equal(verifies(data.secret, during), true, 'the new secret verifies');
      assert.equal(verifies(old, during), true, 'the old secret still verifies');
      assert.equal(verifies(othersBefore, during), false);
      const bystander = await callbackOf(other.key);
      assert.equal(bystander.headers['webhook-signature']?.split(' ').length, 1);
      assert.equal(verifies(othersBefore, bystander), true);

      // A second rotation: the newest and the one just before sign; the first no longer does.
      const again = await server.admin('POST', `/admin/v1/keys/${id}/rotate-callback-secret`, {});
      assert.equal(again.status, 200, again.text);
      const third = again.body.data.secret as string;
      assert.ok(third !== old && third !== data.secret);
      const later = await callbackOf(key);
      assert.equal(verifies(third, later), true);
      assert.equal(verifies(data.secret, later), true);
      assert.equal(verifies(old, later), false, 'two rotations back no longer signs');

      // Rolling the key (a new API secret) and editing it keep the callback secret.
      assert.equal((await server.admin('POST', `/admin/v1/keys/${id}/roll`, {})).status, 200);
      assert.equal((await server.admin('PATCH', `/admin/v1/keys/${id}`, { name: 'renamed' })).status, 200);
      assert.equal((await ownerView(id)).secret, third);

      const audit = await server.admin('GET', '/admin/v1/audit?action=key.rotate_callback_secret');
      assert.equal(audit.status, 200, audit.text);
      const entries = audit.body.data.filter((e: { target_id: string }) => e.target_id === id);
      assert.equal(entries.length, 2);
      // The audit log names the key, never the secret.
      assert.ok(!JSON.stringify(audit.body).includes(third.slice(6)));
    });

    test('with grace_seconds 0 the old secret stops signing at once (a leaked secret)', async () => {
      const { id, key } = await server.createKey({ name: 'leaked', environment: 'test' });
      const old = await accountSecret(key);
      const rotated = await server.admin('POST', `/admin/v1/keys/${id}/rotate-callback-secret`, {
        grace_seconds: 0,
      });
      assert.equal(rotated.status, 200, rotated.text);
      assert.equal(rotated.body.data.previous_secret_expires_at, null);
      const after = await callbackOf(key);
      assert.equal(after.headers['webhook-signature']?.split(' ').length, 1);
      assert.equal(verifies(rotated.body.data.secret, after), true);
      assert.equal(verifies(old, after), false, 'the leaked secret must not verify');
      // A short overlap ends: then the old one stops too, and the owner's view says so.
      const short = await server.admin('POST', `/admin/v1/keys/${id}/rotate-callback-secret`, {
        grace_seconds: 1,
      });
      assert.ok(short.body.data.previous_secret_expires_at);
      await new Promise((r) => setTimeout(r, 1_100));
      assert.equal((await ownerView(id)).previous_secret_expires_at, null);
      const once = await callbackOf(key);
      assert.equal(once.headers['webhook-signature']?.split(' ').length, 1);
      assert.equal(verifies(short.body.data.secret, once), true);
      assert.equal(verifies(rotated.body.data.secret, once), false);
    });

    test('bad input is refused with a clear error and changes nothing', async () => {
      const { id, key } = await server.createKey({ name: 'untouched', environment: 'test' });
      const before = await accountSecret(key);
      for (const [body, field] of [
        [{ grace_seconds: -1 }, 'grace_seconds'],
        [{ grace_seconds: 'soon' }, 'grace_seconds'],
        [{ grace_seconds: 1.5 }, 'grace_seconds'],
        [{ grace_seconds: 31 * 86_400 }, 'grace_seconds'],
        [{ overlap: 5 }, 'overlap'],
      ] as const) {
        const res = await server.admin('POST', `/admin/v1/keys/${id}/rotate-callback-secret`, body);
        assert.equal(res.status, 400, `${JSON.stringify(body)}: ${res.text}`);
        assert.equal(res.body.code, 'invalid_request');
        assert.ok(
          JSON.stringify(res.body.details ?? res.body.message).includes(field),
          `${JSON.stringify(body)}: ${res.text}`,
        );
      }
      const missing = await server.admin('POST', '/admin/v1/keys/key_nope/rotate-callback-secret', {});
      assert.equal(missing.status, 404);
      assert.equal(missing.body.code, 'key_not_found');
      // A key used as the credential is refused on the management API.
      const asKey = await server.request('POST', `/admin/v1/keys/${id}/rotate-callback-secret`, {
        key,
        json: {},
      });
      assert.equal(asKey.status, 401);
      assert.equal(await accountSecret(key), before);
      assert.equal((await ownerView(id)).previous_secret_expires_at, null);
    });

    test('the CLI rotates it and says what the partner has to do', async () => {
      const { id, key } = await server.createKey({ name: 'cli', environment: 'test' });
      const old = await accountSecret(key);
      const json = await cli('keys', 'rotate-callback-secret', id, '--grace-seconds', '3600', '--json');
      assert.equal(json.code, 0, json.stderr);
      const data = JSON.parse(json.stdout).data;
      assert.notEqual(data.secret, old);
      assert.equal(await accountSecret(key), data.secret);
      const overlap = Date.parse(data.previous_secret_expires_at) - Date.now();
      assert.ok(overlap > 3_500_000 && overlap <= 3_600_000, data.previous_secret_expires_at);

      const human = await cli('keys', 'rotate-callback-secret', id, '--grace-seconds', '0');
      assert.equal(human.code, 0, human.stderr);
      const newest = await accountSecret(key);
      assert.ok(human.stdout.includes(`secret                      ${newest}\n`), human.stdout);
      assert.match(human.stdout, /signed with it alone from now on/);
      const shown = await cli('keys', 'callback-secret', id);
      assert.equal(shown.code, 0, shown.stderr);
      assert.ok(shown.stdout.includes(newest), shown.stdout);
      assert.match(shown.stdout, /until you rotate it/);

      const bad = await cli('keys', 'rotate-callback-secret', id, '--grace-seconds', '-5');
      assert.notEqual(bad.code, 0);
      assert.equal(await accountSecret(key), newest);
      const nobody = await cli('keys', 'rotate-callback-secret', 'key_nope');
      assert.notEqual(nobody.code, 0);
      assert.match(nobody.stderr, /not found/i);
    });
  });
}
