import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { databaseKinds } from './helpers/database.ts';
import { managementCli, runGatehouse } from './helpers/process.ts';
import { type Receiver, startReceiver } from './helpers/receiver.ts';
import { startTestServer, type TestServer } from './helpers/server.ts';

for (const kind of databaseKinds) {
  describe(`CLI: webhooks and deliveries (${kind})`, () => {
    let server: TestServer;
    let receiver: Receiver;

    const cli = (...args: string[]) => managementCli(server)(...args);

    before(async () => {
      server = await startTestServer(kind, { GATEHOUSE_WEBHOOK_ALLOW_NETS: '127.0.0.0/8' }, { worker: true });
      receiver = await startReceiver();
      await server.createEndpoint({ slug: 'orders', name: 'Orders', schema: { type: 'object' } });
    });
    after(async () => {
      await server.close();
      await receiver.close();
    });

    test('subscribe, see deliveries, redeliver, rotate, disable, delete — with --json and tables', async () => {
      const created = await cli(
        'webhooks',
        'create',
        'orders',
        '--target',
        receiver.url,
        '--env',
        'test',
        '--event',
        'record.created',
        '--json',
      );
      assert.equal(created.code, 0, created.stderr);
      const sub = JSON.parse(created.stdout).data;
      assert.match(sub.secret, /^whsec_/);
      const table = await cli('webhooks', 'list', 'orders');
      assert.match(table.stdout, /ID\s+ENDPOINT\s+ENVIRONMENT\s+URL/);
      assert.ok(!table.stdout.includes(sub.secret));
      // Without an endpoint: every endpoint's subscriptions.
      const everything = JSON.parse((await cli('webhooks', 'list', '--json')).stdout).data;
      assert.deepEqual(
        everything.map((s: { id: string; endpoint: string }) => [s.id, s.endpoint]),
        [[sub.id, 'orders']],
      );

      const key = (await server.createKey({ name: 'k', environment: 'test' })).key;
      const write = await server.request('POST', '/api/v1/data/orders', { key, json: { a: 1 } });
      await receiver.waitFor(1);
      let listed = JSON.parse(
        (await cli('deliveries', 'list', '--record', write.body.id, '--json')).stdout,
      ).data;
      for (let i = 0; i < 50 && listed[0]?.status !== 'succeeded'; i++) {
        await new Promise((r) => setTimeout(r, 100));
        listed = JSON.parse(
          (await cli('deliveries', 'list', '--record', write.body.id, '--json')).stdout,
        ).data;
      }
      assert.equal(listed[0].status, 'succeeded');
      const shown = await cli('deliveries', 'show', listed[0].id);
      assert.match(shown.stdout, /ATTEMPTED_AT\s+DURATION_MS\s+STATUS_CODE/);
      const again = await cli('deliveries', 'redeliver', listed[0].id, '--json');
      assert.equal(again.code, 0);
      await receiver.waitFor(2);

      // Pages of two over the deliveries so far and a second write's: each on one page only.
      const second = await server.request('POST', '/api/v1/data/orders', { key, json: { a: 2 } });
      assert.equal(second.status, 202);
      await receiver.waitFor(3);
      const first = JSON.parse((await cli('deliveries', 'list', '--limit', '2', '--json')).stdout);
      assert.equal(first.data.length, 2);
      assert.match(first.meta.next_cursor, /.+/);
      const page = await cli(
        'deliveries',
        'list',
        '--limit',
        '2',
        '--endpoint',
        'orders',
        '--event-type',
        'record.created',
      );
      // The next page's command keeps the filters and the page size.
      const more = /More: (gatehouse deliveries list .*)/.exec(page.stdout)?.[1];
      assert.ok(more, page.stdout);
      assert.match(more, / --endpoint orders /);
      assert.match(more, / --event-type record\.created /);
      assert.match(more, / --limit 2 /);
      assert.match(more, / --after \S+$/);
      const rest = JSON.parse(
        (await cli('deliveries', 'list', '--limit', '2', '--after', first.meta.next_cursor, '--json')).stdout,
      );
      assert.ok(rest.data.length >= 1);
      const ids = [...first.data, ...rest.data].map((d: { id: string }) => d.id);
      assert.equal(new Set(ids).size, ids.length, 'no delivery on two pages');
      // Given --url and --token, the next page's command keeps the --url; the token is never printed back.
      const elsewhere = { GATEHOUSE_URL: '', GATEHOUSE_TOKEN: '', GATEHOUSE_CLI_CREDENTIALS: '/nonexistent' };
      const given = await runGatehouse(
        ['deliveries', 'list', '--limit', '2', '--url', server.url, '--token', server.token],
        elsewhere,
      );
      assert.equal(given.code, 0, given.stderr);
      const line = /More: gatehouse (deliveries list .*)/.exec(given.stdout)?.[1];
      assert.ok(line, given.stdout);
      assert.match(line, new RegExp(` --url ${server.url.replace(/\./g, '\\.')} `));
      assert.equal(given.stdout.includes(server.token), false, 'the token is not printed back');
      assert.match(given.stdout, /^\(add your --token: /m);
      const next = await runGatehouse([...line.split(' '), '--token', server.token, '--json'], elsewhere);
      assert.equal(next.code, 0, next.stdout + next.stderr);
      assert.deepEqual(
        JSON.parse(next.stdout).data.map((d: { id: string }) => d.id),
        rest.data.map((d: { id: string }) => d.id),
      );
      const ofType = JSON.parse(
        (await cli('deliveries', 'list', '--event-type', 'record.created', '--json')).stdout,
      ).data;
      assert.ok(ofType.length >= 2);
      assert.ok(ofType.every((d: { event_type: string }) => d.event_type === 'record.created'));

      const rotated = JSON.parse((await cli('webhooks', 'rotate-secret', sub.id, '--json')).stdout).data;
      assert.notEqual(rotated.secret, sub.secret);
      const disabled = JSON.parse(
        (await cli('webhooks', 'update', sub.id, '--disable', '--json')).stdout,
      ).data;
      assert.equal(disabled.enabled, false);
      const one = await cli('webhooks', 'show', sub.id);
      assert.equal(one.code, 0, one.stderr);
      assert.match(one.stdout, new RegExp(`^id\\s+${sub.id}$`, 'm'));
      assert.match(one.stdout, /^enabled\s+false$/m);
      assert.equal(one.stdout.includes(sub.secret), false, 'the secret is shown once, at create');
      assert.equal(JSON.parse((await cli('webhooks', 'show', sub.id, '--json')).stdout).data.id, sub.id);
      assert.equal((await cli('webhooks', 'delete', sub.id, '--yes')).code, 0);
      const gone = await cli('webhooks', 'show', sub.id);
      assert.equal(gone.code, 1);
      assert.match(gone.stderr, /not_found/);

      // The callback signing secret: the one the API gives the owner.
      const signing = JSON.parse((await cli('webhooks', 'signing-secret', '--json')).stdout).data;
      const fromApi = (await server.admin('GET', '/admin/v1/webhook-signing-secret')).body.data;
      assert.equal(signing.secret, fromApi.secret);
      assert.match(signing.secret, /^whsec_/);
      const human = await cli('webhooks', 'signing-secret');
      assert.equal(human.code, 0);
      assert.ok(human.stdout.includes(`secret    ${fromApi.secret}\n`), human.stdout);
      assert.match(human.stdout, /Do not give it to partners/);

      // A key's own callback signing secret: the one the key reads, printed for its partner.
      const other = await server.createKey({ name: 'callbacks', environment: 'test' });
      const ofKey = (await server.request('GET', '/api/v1/account', { key: other.key })).body.data
        .callback_signing_secret;
      assert.match(ofKey, /^whsec_/);
      assert.notEqual(ofKey, fromApi.secret);
      const perKey = await cli('keys', 'callback-secret', other.id, '--json');
      assert.equal(perKey.code, 0, perKey.stderr);
      assert.deepEqual(JSON.parse(perKey.stdout).data, {
        object: 'callback_signing_secret',
        key_id: other.id,
        secret: ofKey,
        used_for: "per-request callbacks of this key's requests",
        previous_secret_expires_at: null,
      });
      const perKeyHuman = await cli('keys', 'callback-secret', other.id);
      assert.equal(perKeyHuman.code, 0, perKeyHuman.stderr);
      assert.ok(perKeyHuman.stdout.includes(`key_id  ${other.id}\nsecret  ${ofKey}\n`), perKeyHuman.stdout);
      assert.match(perKeyHuman.stdout, /Give it to the key's partner/);
      const noKey = await cli('keys', 'callback-secret', 'key_nope');
      assert.notEqual(noKey.code, 0);
      assert.match(noKey.stderr, /not found/i);

      const missing = await cli('deliveries', 'show', 'dlv_nope');
      assert.notEqual(missing.code, 0);
      assert.match(missing.stderr, /not found/i);
      const bad = await cli('webhooks', 'create', 'orders', '--target', 'ftp://x', '--env', 'test', '--json');
      assert.notEqual(bad.code, 0);
      assert.equal(JSON.parse(bad.stdout).code, 'invalid_request');
    });

    test('deliveries list --endpoint with a slug that names no endpoint is endpoint_not_found, not an empty list', async () => {
      const human = await cli('deliveries', 'list', '--endpoint', 'no-such-endpoint');
      assert.equal(human.code, 1);
      assert.equal(human.stdout, '');
      assert.match(human.stderr, /^Error: Endpoint "no-such-endpoint" not found \(endpoint_not_found\)$/m);
      const json = await cli('deliveries', 'list', '--endpoint', 'no-such-endpoint', '--json');
      assert.equal(json.code, 1);
      assert.equal(JSON.parse(json.stdout).code, 'endpoint_not_found');
      // An endpoint that exists, with no deliveries yet: the empty list, as before.
      await server.createEndpoint({ slug: 'quiet', name: 'Quiet', schema: { type: 'object' } });
      const quiet = await cli('deliveries', 'list', '--endpoint', 'quiet', '--json');
      assert.equal(quiet.code, 0, quiet.stderr);
      assert.deepEqual(JSON.parse(quiet.stdout).data, []);
    });

    test('webhooks list --env: one environment, with or without an endpoint; another value is a usage error', async () => {
      await server.createEndpoint({ slug: 'invoices', name: 'Invoices', schema: { type: 'object' } });
      const made: Record<string, string> = {};
      for (const [slug, env] of [
        ['orders', 'test'],
        ['orders', 'live'],
        ['invoices', 'live'],
      ] as const) {
        const res = await cli('webhooks', 'create', slug, '--target', receiver.url, '--env', env, '--json');
        assert.equal(res.code, 0, res.stdout + res.stderr);
        made[`${slug}/${env}`] = JSON.parse(res.stdout).data.id;
      }
      const ids = async (...args: string[]) => {
        const res = await cli('webhooks', 'list', ...args, '--json');
        assert.equal(res.code, 0, res.stdout + res.stderr);
        return JSON.parse(res.stdout).data.map((s: { id: string }) => s.id);
      };
      assert.deepEqual(await ids('--env', 'live'), [made['invoices/live'], made['orders/live']]);
      assert.deepEqual(await ids('--env', 'test'), [made['orders/test']]);
      assert.deepEqual(await ids('orders', '--env', 'live'), [made['orders/live']]);
      assert.deepEqual(await ids('invoices', '--env', 'test'), []);
      assert.deepEqual(await ids('orders'), [made['orders/test'], made['orders/live']]);
      const table = await cli('webhooks', 'list', '--env', 'test');
      assert.equal(table.code, 0, table.stderr);
      assert.ok(table.stdout.includes(made['orders/test'] ?? '?'));
      assert.ok(!table.stdout.includes(made['orders/live'] ?? '?'));

      const bad = await cli('webhooks', 'list', '--env', 'prod');
      assert.equal(bad.code, 1);
      assert.match(
        bad.stderr,
        /'--env <environment>' argument 'prod' is invalid\. Allowed choices are test, live/,
      );
      const badJson = await cli('webhooks', 'list', 'orders', '--env', 'sandbox', '--json');
      assert.equal(badJson.code, 1);
      assert.equal(JSON.parse(badJson.stdout).code, 'cli_usage');

      // --enabled / --disabled, alone or with --env, with or without an endpoint.
      const off = made['orders/live'] ?? '?';
      assert.equal((await cli('webhooks', 'update', off, '--disable', '--json')).code, 0);
      assert.deepEqual(await ids('--disabled'), [off]);
      assert.deepEqual(await ids('orders', '--disabled'), [off]);
      assert.deepEqual(await ids('--enabled', '--env', 'live'), [made['invoices/live']]);
      assert.deepEqual(await ids('orders', '--enabled'), [made['orders/test']]);
      const both = await cli('webhooks', 'list', '--enabled', '--disabled', '--json');
      assert.equal(both.code, 1);
      assert.equal(JSON.parse(both.stdout).code, 'cli_usage');
      for (const id of Object.values(made))
        assert.equal((await cli('webhooks', 'delete', id, '--yes')).code, 0);
    });
  });
}
