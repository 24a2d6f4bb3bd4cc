import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import SwaggerParser from '@apidevtools/swagger-parser';
import { databaseKinds } from './helpers/database.ts';
import { managementCli } from './helpers/process.ts';
import { type Receiver, startReceiver } from './helpers/receiver.ts';
import { countRows, ordersSchema, startTestServer, type TestServer } from './helpers/server.ts';

/** The worked example of docs/apps.md, as written there. */
const shop = {
  slug: 'shop',
  name: 'Shop',
  routes: [
    {
      method: 'GET',
      path: '/orders/:order_id/status',
      auth: 'apiKey',
      description: 'Order status by order_id',
      steps: [
        {
          name: 'matches',
          type: 'find',
          endpoint: 'orders',
          filter: { order_id: 'params.order_id' },
          limit: 1,
        },
        {
          name: 'missing',
          type: 'respond',
          when: '$count(matches) = 0',
          status: 404,
          body: "{ 'error': 'No order ' & params.order_id }",
        },
        {
          name: 'status',
          type: 'respond',
          body: "{ 'order_id': matches[0].data.order_id, 'amount': matches[0].data.amount, 'paid': matches[0].data.paid = true }",
        },
      ],
    },
    {
      method: 'POST',
      path: '/checkout',
      auth: 'public',
      description: 'Create an order, then redirect to a thank-you page',
      body_schema: {
        type: 'object',
        required: ['order_id', 'amount'],
        properties: { order_id: { type: 'string' }, amount: { type: 'integer', minimum: 1 } },
      },
      steps: [
        {
          name: 'order',
          type: 'create',
          endpoint: 'orders',
          data: "{ 'order_id': body.order_id, 'amount': body.amount, 'paid': false }",
        },
        {
          name: 'thanks',
          type: 'redirect',
          url: "'https://shop.example/thanks?order=' & $encodeUrlComponent(order.data.order_id)",
        },
      ],
    },
  ],
};

const respond = (body: string) => [{ name: 'out', type: 'respond', body }];
/** A route of each auth mode. */
const authModeRoutes = [
  { method: 'GET', path: '/key', auth: 'apiKey', steps: respond("'key ok'") },
  { method: 'GET', path: '/jwt', auth: 'jwt', steps: respond("'jwt ok'") },
  { method: 'GET', path: '/open', auth: 'public', steps: respond('environment') },
];

for (const kind of databaseKinds) {
  describe(`App APIs (${kind})`, () => {
    let server: TestServer;
    let testKey: string;
    let liveKey: string;
    const receivers: Receiver[] = [];

    async function createApp(def: Record<string, unknown>) {
      const res = await server.admin('POST', '/admin/v1/apps', def);
      assert.equal(res.status, 201, res.text);
      return res.body.data;
    }
    const call = (method: string, path: string, options: Parameters<TestServer['request']>[2] = {}) =>
      server.request(method, `/api/v1/apps${path}`, options);

    before(async () => {
      server = await startTestServer(kind, { GATEHOUSE_WEBHOOK_ALLOW_NETS: '127.0.0.0/8' }, { worker: true });
      await server.createEndpoint({ slug: 'orders', name: 'Orders', schema: ordersSchema });
      await server.admin('POST', '/admin/v1/endpoints/orders/deploy');
      testKey = (await server.createKey({ name: 't', environment: 'test', scopes: ['apps:shop'] })).key;
      liveKey = (await server.createKey({ name: 'l', environment: 'live', scopes: ['*'] })).key;
    });
    after(async () => {
      await server.close();
      for (const r of receivers) await r.close();
    });

    test('bad definitions are refused with a 400 naming the route and step, and nothing is stored', async () => {
      const route = (steps: unknown[], extra: Record<string, unknown> = {}) => ({
        slug: 'bad',
        name: 'Bad',
        routes: [{ method: 'GET', path: '/x/:id', steps, ...extra }],
      });
      const cases: Array<[unknown, RegExp]> = [
        [
          route([{ name: 'a', type: 'find', endpoint: 'nope' }]),
          /steps\[0\] \("a"\)\.endpoint.*Unknown endpoint "nope"/,
        ],
        [
          route([{ name: 'a', type: 'transform', expression: 'params.(' }]),
          /\("a"\)\.expression.*does not parse/,
        ],
        [
          route([
            { name: 'a', type: 'transform', expression: '1' },
            { name: 'a', type: 'transform', expression: '2' },
          ]),
          /steps\[1\] \("a"\)\.name.*Duplicate step name/,
        ],
        [
          route([
            { name: 'a', type: 'transform', expression: 'b.x' },
            { name: 'b', type: 'transform', expression: '2' },
          ]),
          /\("a"\)\.expression.*step "b", which runs later/,
        ],
        [route([{ name: 'a', type: 'transform', expression: 'nothing.x' }]), /\("a"\).*Refers to "nothing"/],
        // Through the ~> operator too (it was not checked: a typo there answered nothing at run time).
        [
          route([{ name: 'a', type: 'transform', expression: 'nothing ~> $count()' }]),
          /\("a"\).*Refers to "nothing"/,
        ],
        [
          route([{ name: 'a', type: 'transform', expression: 'params ~> $merge(nothing)' }]),
          /\("a"\).*Refers to "nothing"/,
        ],
        [
          route([{ name: 'a', type: 'transform', expression: '1' }], { path: '/x//y' }),
          /\.path.*Bad path template/,
        ],
        [route([{ name: 'a', type: 'transform', expression: '1' }], { path: '/x/:id/:id' }), /appears twice/],
        // Clients resolve dot segments away: such a route could never be called.
        [route([{ name: 'a', type: 'transform', expression: '1' }], { path: '/x/../y' }), /Segment "\.\."/],
        [route([{ name: 'a', type: 'transform', expression: '1' }], { path: '/x/.' }), /Segment "\."/],
        [
          route([{ name: 'a', type: 'transform', expression: '1' }], {
            query: [{ name: 'n', type: 'float' }],
          }),
          /query\[0\]\.type.*string, integer, number or boolean/,
        ],
        [
          route([{ name: 'a', type: 'transform', expression: '1' }], {
            query: [{ name: 'n', type: 'integer', default: 'x' }],
          }),
          /query\[0\]\.default.*integer/,
        ],
        [route([{ name: 'params', type: 'transform', expression: '1' }]), /reserved/],
        [route([{ name: '__proto__', type: 'transform', expression: '1' }]), /not __proto__/],
        [
          {
            slug: 'bad',
            name: 'Bad',
            routes: [{ method: 'GET', path: '/p/:__proto__', steps: respond('1') }],
          },
          /":__proto__" is not a valid parameter name/,
        ],
        [
          route([
            { name: 'r', type: 'respond', body: '1' },
            { name: 'b', type: 'transform', expression: '2' },
          ]),
          /\("r"\).*must be the last step/,
        ],
        [route([{ name: 'a', type: 'redirect', url: "'/x'", status: 200 }]), /\("a"\)\.status/],
        // Trailer with a body of known length made Node refuse the response: a bare 500, no envelope.
        [
          route([{ name: 'r', type: 'respond', headers: { Trailer: "'x-sum'" }, body: '1' }]),
          /\("r"\)\.headers\.Trailer.*set by Gatehouse/,
        ],
        [route([{ name: 'a', type: 'sql', query: 'x' }]), /\.type.*Must be one of/],
        [
          {
            slug: 'bad',
            name: 'Bad',
            routes: [
              { method: 'GET', path: '/x/:a', steps: respond('1') },
              { method: 'GET', path: '/x/:b', steps: respond('2') },
            ],
          },
          /Duplicate route/,
        ],
        [
          {
            slug: 'bad',
            name: 'Bad',
            routes: [
              { method: 'GET', path: '/items/:id', steps: respond('1') },
              { method: 'POST', path: '/items/:item_id', steps: respond('2') },
            ],
          },
          /routes\[1\].*Same path as routes\[0\] with other parameter names: write it \/items\/:id/,
        ],
        [
          {
            slug: 'bad',
            name: 'Bad',
            routes: [
              {
                method: 'GET',
                path: '/match',
                auth: 'public',
                steps: [{ name: 'm', type: 'transform', expression: '$contains(query.q, /^(a|b)+$/i)' }],
              },
            ],
          },
          /routes\[0\].*expression: Regex \/\^\(a\|b\)\+\$\/i: a case-insensitive regex can take exponential time.*\$lowercase/,
        ],
        [
          {
            slug: 'bad',
            name: 'Bad',
            routes: [
              {
                method: 'GET',
                path: '/match',
                auth: 'public',
                steps: [{ name: 'm', type: 'transform', expression: '$match(query.q, /(a*)*\\1$/)' }],
              },
            ],
          },
          /Regex \/\(a\*\)\*\\1\$\/: a backreference or lookaround/,
        ],
        [
          {
            slug: 'bad',
            name: 'Bad',
            routes: [
              {
                method: 'GET',
                path: '/match',
                auth: 'public',
                steps: [{ name: 'm', type: 'transform', expression: '$contains(query.q, /a(?=b)/)' }],
              },
            ],
          },
          /Regex \/a\(\?=b\)\/: a backreference or lookaround/,
        ],
        [
          {
            slug: 'bad',
            name: 'Bad',
            routes: [
              {
                method: 'GET',
                path: '/match',
                auth: 'public',
                steps: [{ name: 'm', type: 'transform', expression: '$contains(query.q, /^(a|a){1,64}$/)' }],
              },
            ],
          },
          /Regex \/\^\(a\|a\)\{1,64\}\$\/: cannot run in linear time/,
        ],
        // A path of n steps costs JSONata n² to compile: 5 000 steps took half a second.
        [
          route([{ name: 'a', type: 'transform', expression: Array(1002).fill('params').join('.') }]),
          /\("a"\)\.expression.*more than 1000 "\."/,
        ],
      ];
      for (const [body, pattern] of cases) {
        const res = await server.admin('POST', '/admin/v1/apps', body);
        assert.equal(res.status, 400, `${JSON.stringify(body)} → ${res.text}`);
        assert.equal(res.body.code, 'invalid_app');
        assert.match(`${res.body.error} ${JSON.stringify(res.body.details)}`, pattern, res.text);
        assert.match(res.body.details[0].field, /routes\[\d\]/);
      }
      assert.equal((await server.admin('GET', '/admin/v1/apps/bad')).status, 404);
      assert.deepEqual((await server.admin('GET', '/admin/v1/apps')).body.data, []);
      // A refused PATCH leaves the draft as it was.
      await createApp({
        slug: 'keep',
        name: 'Keep',
        routes: [{ method: 'GET', path: '/a', steps: respond('1') }],
      });
      const patched = await server.admin('PATCH', '/admin/v1/apps/keep', {
        routes: [{ method: 'GET', path: '/a', steps: [{ name: 'x', type: 'get', endpoint: 'orders' }] }],
      });
      assert.equal(patched.status, 400);
      assert.match(patched.body.details[0].field, /\("x"\)\.id/);
      const kept = await server.admin('GET', '/admin/v1/apps/keep');
      assert.equal(kept.body.data.draft_revision, 1);
      assert.equal(kept.body.data.routes[0].steps[0].type, 'respond');
      // An unknown field beside the routes is one more problem of the same 400: none is hidden.
      const mixed = await server.admin('POST', '/admin/v1/apps', {
        ...route([{ name: 'a', type: 'find', endpoint: 'nope' }]),
        bogus: 1,
      });
      assert.equal(mixed.status, 400, mixed.text);
      assert.equal(mixed.body.code, 'invalid_app');
      assert.deepEqual(
        (mixed.body.details as Array<{ field: string }>).map((d) => d.field).sort(),
        ['bogus', 'routes[0] (GET /x/:id).steps[0] ("a").endpoint'],
        mixed.text,
      );
      const renamed = await server.admin('PATCH', '/admin/v1/apps/keep', { slug: 'other' });
      assert.equal(renamed.status, 400);
      assert.equal(renamed.body.code, 'invalid_app');
      assert.equal(renamed.body.details[0].field, 'slug');
      assert.equal((await server.admin('GET', '/admin/v1/apps/keep')).body.data.draft_revision, 1);
      await server.admin('DELETE', '/admin/v1/apps/keep');
    });

    test('an integer a double cannot hold in a body schema is refused, by the API and the CLI, and nothing is stored', async () => {
      const text =
        '{"slug":"longs","name":"Longs","routes":[{"method":"POST","path":"/n","body_schema":{"type":"object","properties":{"n":{"enum":[1152921504606846977]}}},"steps":[{"name":"out","type":"respond","body":"1"}]}]}';
      const res = await fetch(`${server.url}/admin/v1/apps`, {
        method: 'POST',
        headers: { authorization: `Bearer ${server.token}`, 'content-type': 'application/json' },
        body: text,
      });
      assert.equal(res.status, 400);
      const body = (await res.json()) as { code: string; details: Array<{ field: string; error: string }> };
      assert.equal(body.code, 'invalid_schema');
      assert.equal(body.details[0]?.field, 'routes[0].body_schema.properties.n.enum[0]');
      assert.equal((await server.admin('GET', '/admin/v1/apps/longs')).status, 404);
      const { mkdtempSync, writeFileSync, rmSync } = await import('node:fs');
      const { join } = await import('node:path');
      const { tmpdir } = await import('node:os');
      const dir = mkdtempSync(join(tmpdir(), 'gatehouse-app-'));
      try {
        writeFileSync(join(dir, 'app.json'), text);
        const cli = await managementCli(server)('apps', 'create', '--file', join(dir, 'app.json'));
        assert.equal(cli.code, 1);
        assert.match(cli.stderr, /1152921504606846977 has more digits than a 64-bit float holds/);
        assert.equal((await server.admin('GET', '/admin/v1/apps/longs')).status, 404);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    test('the draft serves test, deploy publishes an immutable version to live', async () => {
      const key = (await server.createKey({ name: 'v', environment: 'test', scopes: ['apps:versions'] })).key;
      await createApp({
        slug: 'versions',
        name: 'V',
        routes: [{ method: 'GET', path: '/v', steps: respond("'one'") }],
      });
      assert.equal((await call('GET', '/versions/v', { key })).body, 'one');
      const notLive = await call('GET', '/versions/v', { key: liveKey });
      assert.equal(notLive.status, 403);
      assert.equal(notLive.body.code, 'app_not_deployed');

      const deployed = await server.admin('POST', '/admin/v1/apps/versions/deploy');
      assert.equal(deployed.status, 201);
      assert.equal(deployed.body.data.deployed.version, 1);
      assert.equal((await call('GET', '/versions/v', { key: liveKey })).body, 'one');

      const patched = await server.admin('PATCH', '/admin/v1/apps/versions', {
        routes: [{ method: 'GET', path: '/v', steps: respond("'two'") }],
      });
      assert.equal(patched.body.data.draft_revision, 2);
      assert.equal((await call('GET', '/versions/v', { key })).body, 'two');
      assert.equal((await call('GET', '/versions/v', { key: liveKey })).body, 'one');

      await server.admin('POST', '/admin/v1/apps/versions/deploy');
      assert.equal((await call('GET', '/versions/v', { key: liveKey })).body, 'two');
      const versions = (await server.admin('GET', '/admin/v1/apps/versions/versions')).body.data;
      assert.deepEqual(
        versions.map((v: { version: number }) => v.version),
        [2, 1],
      );
      assert.equal(versions[1].routes[0].steps[0].body, "'one'");
      assert.equal((await server.admin('DELETE', '/admin/v1/apps/versions')).status, 200);
      assert.equal((await call('GET', '/versions/v', { key: liveKey })).status, 404);
    });

    test('an endpoint an app uses cannot be deleted until no draft or live version names it', async () => {
      await server.createEndpoint({ slug: 'ledger', name: 'Ledger', schema: { type: 'object' } });
      await server.admin('POST', '/admin/v1/endpoints/ledger/deploy');
      const written = await server.request('POST', '/api/v1/data/ledger', { key: liveKey, json: { n: 1 } });
      assert.equal(written.status, 202);
      const findLedger = [{ name: 'rows', type: 'find', endpoint: 'ledger' }, ...respond('$count(rows)')];
      await createApp({
        slug: 'books',
        name: 'Books',
        routes: [{ method: 'GET', path: '/n', steps: findLedger }],
      });
      await server.admin('POST', '/admin/v1/apps/books/deploy');
      await server.admin('PATCH', '/admin/v1/apps/books', {
        routes: [{ method: 'GET', path: '/n', steps: respond('0') }],
      });
      await createApp({
        slug: 'audit',
        name: 'Audit',
        routes: [{ method: 'GET', path: '/n', steps: findLedger }],
      });

      const refused = await server.admin('DELETE', '/admin/v1/endpoints/ledger');
      assert.equal(refused.status, 409, refused.text);
      assert.equal(refused.body.code, 'conflict');
      assert.equal(
        refused.body.error,
        'Endpoint "ledger" is used by app "audit" (draft), app "books" (live version 1): ' +
          'remove its steps from those apps (and deploy them) or delete the apps first',
      );
      // Nothing went: the endpoint, its record, and the apps that read it still answer.
      assert.equal((await server.admin('GET', '/admin/v1/endpoints/ledger')).status, 200);
      const record = await server.request('GET', `/api/v1/data/ledger/${written.body.id}`, { key: liveKey });
      assert.equal(record.status, 200);
      assert.equal((await call('GET', '/books/n', { key: liveKey })).body, 1);

      assert.equal((await server.admin('DELETE', '/admin/v1/apps/audit')).status, 200);
      const stillLive = await server.admin('DELETE', '/admin/v1/endpoints/ledger');
      assert.equal(stillLive.status, 409);
      assert.match(stillLive.body.error, /used by app "books" \(live version 1\):/);
      await server.admin('POST', '/admin/v1/apps/books/deploy');
      assert.equal((await server.admin('DELETE', '/admin/v1/endpoints/ledger')).status, 200);
      assert.equal((await server.admin('GET', '/admin/v1/endpoints/ledger')).status, 404);
      assert.equal((await server.admin('DELETE', '/admin/v1/apps/books')).status, 200);
    });

    test('an app saved while its endpoint is deleted: never both (the app would point at nothing)', async () => {
      const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
      for (let i = 0; i < 24; i++) {
        const slug = `race-${i}`;
        await server.createEndpoint({ slug, name: 'Race', schema: { type: 'object' } });
        const steps = [{ name: 'rows', type: 'find', endpoint: slug }, ...respond('$count(rows)')];
        // Staggered by 0 to 3 ms either way: the window the review found on PostgreSQL.
        const lag = (i % 4) - 1.5;
        const [made, removed] = await Promise.all([
          delay(Math.max(0, lag)).then(() =>
            server.admin('POST', '/admin/v1/apps', {
              slug: `race-app-${i}`,
              name: 'Race',
              routes: [{ method: 'GET', path: '/n', steps }],
            }),
          ),
          delay(Math.max(0, -lag)).then(() => server.admin('DELETE', `/admin/v1/endpoints/${slug}`)),
        ]);
        assert.ok([201, 400].includes(made.status), made.text);
        assert.ok([200, 409].includes(removed.status), removed.text);
        assert.equal(made.status === 201 && removed.status === 200, false, `round ${i}: both went through`);
        if (made.status === 201)
          assert.equal((await server.admin('DELETE', `/admin/v1/apps/race-app-${i}`)).status, 200);
        if (removed.status !== 200)
          assert.equal((await server.admin('DELETE', `/admin/v1/endpoints/${slug}`)).status, 200);
      }
    });

    test('what a pipeline would store changed or could not store is refused, and nothing is written', async () => {
      await createApp({
        slug: 'store',
        name: 'Store',
        routes: [
          {
            method: 'POST',
            path: '/n/:x',
            auth: 'public',
            steps: [
              {
                name: 'made',
                type: 'create',
                endpoint: 'orders',
                data: "{ 'order_id': params.x, 'amount': 1, 'note': body.note }",
              },
            ],
          },
        ],
      });
      const before = await countRows(server, 'records');
      // U+0000 from a path parameter (PostgreSQL cannot hold it; filtered reads of the endpoint
      // then failed), or from an expression, or half a surrogate pair: 400, as the data API says.
      const nul = await call('POST', '/store/n/a%00b?environment=test', { json: {} });
      assert.equal(nul.status, 400, nul.text);
      assert.equal(nul.body.code, 'invalid_body');
      assert.equal(nul.body.details[0].field, 'order_id');
      assert.match(nul.body.details[0].error, /U\+0000/);
      const inBody = await call('POST', '/store/n/ok?environment=test', { json: { note: 'x\u0000y' } });
      assert.equal(inBody.status, 400, inBody.text);
      // An integer a double would round is refused, not changed on its way to the record.
      const rounded = await call('POST', '/store/n/big?environment=test', {
        raw: '{"note":9007199254740993}',
        headers: { 'content-type': 'application/json' },
      });
      assert.equal(rounded.status, 400, rounded.text);
      assert.equal(rounded.body.code, 'invalid_body');
      assert.equal(rounded.body.details[0].field, 'note');
      assert.match(
        rounded.body.details[0].error,
        /9007199254740993 has more digits than a 64-bit float holds/,
      );
      assert.equal(await countRows(server, 'records'), before, 'nothing was written');
      const kept = await call('POST', '/store/n/fine?environment=test', { json: { note: 9007199254740991 } });
      assert.equal(kept.status, 200, kept.text);
      assert.equal(kept.body.data.data.note, 9007199254740991);
      // A caller's U+0000 in a find step's filter is a 400, on PostgreSQL too (it was a 500).
      await server.admin('PATCH', '/admin/v1/apps/store', {
        routes: [
          {
            method: 'GET',
            path: '/find/:x',
            auth: 'public',
            steps: [{ name: 'found', type: 'find', endpoint: 'orders', filter: { order_id: 'params.x' } }],
          },
        ],
      });
      const nulFilter = await call('GET', '/store/find/a%00b?environment=test');
      assert.equal(nulFilter.status, 400, nulFilter.text);
      assert.equal(nulFilter.body.details[0].error, 'Cannot hold U+0000');
      assert.equal((await call('GET', '/store/find/fine?environment=test')).status, 200);
      // The endpoint's filtered reads still work.
      const reader = (await server.createKey({ name: 'r', environment: 'test', scopes: ['*'] })).key;
      const list = await server.request('GET', '/api/v1/data/orders?filter[order_id]=fine', { key: reader });
      assert.equal(list.status, 200, list.text);
    });

    test('record data a pipeline builds nests no deeper than the data API takes a body', async () => {
      await createApp({
        slug: 'nesting',
        name: 'Nesting',
        routes: [
          {
            method: 'POST',
            path: '/n/:levels',
            auth: 'public',
            steps: [
              {
                name: 'made',
                type: 'create',
                endpoint: 'orders',
                data: "{ 'order_id': 'nest', 'amount': 1, 'note': $reduce([1..$number(params.levels)], function($a, $v){ {'a': $a} }, {}) }",
              },
            ],
          },
        ],
      });
      const before = await countRows(server, 'records');
      // 127 levels under `note`: the record is 128 deep, as deep as the data API takes.
      const deepest = await call('POST', '/nesting/n/126?environment=test', { json: {} });
      assert.equal(deepest.status, 200, deepest.text);
      const reader = (await server.createKey({ name: 'n', environment: 'test', scopes: ['*'] })).key;
      const sentBack = await server.request('PUT', `/api/v1/data/orders/${deepest.body.data.id}`, {
        key: reader,
        json: deepest.body.data.data,
      });
      assert.equal(sentBack.status, 202, sentBack.text);
      const deeper = await call('POST', '/nesting/n/127?environment=test', { json: {} });
      assert.equal(deeper.status, 400, deeper.text);
      assert.equal(deeper.body.code, 'invalid_body');
      assert.match(deeper.body.error, /Step "made"/);
      assert.match(deeper.body.details[0].error, /at most 128 levels/);
      assert.equal(await countRows(server, 'records'), before + 1, 'the deeper record was not written');
    });

    test('concurrent changes and deploys of an app, or of an endpoint, apply one after the other', async () => {
      await createApp({
        slug: 'race',
        name: 'Race',
        routes: [{ method: 'GET', path: '/v', auth: 'public', steps: respond('0') }],
      });
      const start = (await server.admin('GET', '/admin/v1/apps/race')).body.data.draft_revision as number;
      const patches = await Promise.all(
        Array.from({ length: 12 }, (_, i) =>
          server.admin('PATCH', '/admin/v1/apps/race', {
            routes: [{ method: 'GET', path: '/v', auth: 'public', steps: respond(String(i + 1)) }],
          }),
        ),
      );
      for (const patch of patches) assert.equal(patch.status, 200, patch.text);
      const revisions = patches.map((p) => p.body.data.draft_revision as number).sort((a, b) => a - b);
      assert.deepEqual(
        revisions,
        Array.from({ length: 12 }, (_, i) => start + i + 1),
        'each PATCH its own revision',
      );
      const stored = (await server.admin('GET', '/admin/v1/apps/race')).body.data;
      assert.equal(stored.draft_revision, start + 12);
      // The draft test traffic runs is the stored one.
      const served = await call('GET', '/race/v?environment=test');
      assert.equal(JSON.stringify(served.body), stored.routes[0].steps[0].body);

      const deploys = await Promise.all(
        Array.from({ length: 8 }, () => server.admin('POST', '/admin/v1/apps/race/deploy')),
      );
      for (const deploy of deploys) assert.equal(deploy.status, 201, deploy.text);
      assert.deepEqual(
        deploys.map((d) => d.body.data.deployed.version as number).sort((a, b) => a - b),
        [1, 2, 3, 4, 5, 6, 7, 8],
      );

      await server.createEndpoint({ slug: 'racing', name: 'Racing', schema: { type: 'object' } });
      const endpointDeploys = await Promise.all(
        Array.from({ length: 8 }, () => server.admin('POST', '/admin/v1/endpoints/racing/deploy')),
      );
      for (const deploy of endpointDeploys) assert.equal(deploy.status, 201, deploy.text);
      assert.deepEqual(
        endpointDeploys.map((d) => d.body.data.deployed.version as number).sort((a, b) => a - b),
        [1, 2, 3, 4, 5, 6, 7, 8],
      );
      // Two PATCHes of different fields at once: both apply (neither writes back a stale copy).
      const [renamed, resized] = await Promise.all([
        server.admin('PATCH', '/admin/v1/endpoints/racing', { name: 'Renamed' }),
        server.admin('PATCH', '/admin/v1/endpoints/racing', { max_body_bytes: 4096 }),
      ]);
      assert.equal(renamed.status, 200, renamed.text);
      assert.equal(resized.status, 200, resized.text);
      const endpoint = (await server.admin('GET', '/admin/v1/endpoints/racing')).body.data;
      assert.equal(endpoint.name, 'Renamed');
      assert.equal(endpoint.max_body_bytes, 4096);
    });

    test('path :params and typed query parameters, with defaults and required ones', async () => {
      await createApp({
        slug: 'params',
        name: 'Params',
        routes: [
          {
            method: 'GET',
            path: '/users/:user/items/:item',
            auth: 'public',
            query: [
              { name: 'page', type: 'integer', default: 1 },
              { name: 'ratio', type: 'number' },
              { name: 'full', type: 'boolean', default: false },
              { name: 'tag', type: 'string', required: true },
            ],
            steps: [{ name: 'echo', type: 'transform', expression: '{ "params": params, "query": query }' }],
          },
          { method: 'GET', path: '/users/me/items/:item', auth: 'public', steps: respond("'literal wins'") },
        ],
      });
      await server.admin('POST', '/admin/v1/apps/params/deploy');
      const ok = await call('GET', '/params/users/u%201/items/42?tag=x&ratio=0.5&full=true&other=1');
      assert.equal(ok.status, 200, ok.text);
      assert.deepEqual(ok.body.data, {
        params: { user: 'u 1', item: '42' },
        query: { page: 1, ratio: 0.5, full: true, tag: 'x' },
      });
      const defaults = await call('GET', '/params/users/a/items/b?tag=y&page=3');
      assert.deepEqual(defaults.body.data.query, { page: 3, full: false, tag: 'y' });
      assert.equal((await call('GET', '/params/users/me/items/b?environment=test')).body, 'literal wins');
      for (const [query, field] of [
        ['', 'tag'],
        ['?tag=x&page=1.5', 'page'],
        ['?tag=x&ratio=abc', 'ratio'],
        ['?tag=x&ratio=0x10', 'ratio'],
        ['?tag=x&ratio=0b101', 'ratio'],
        ['?tag=x&full=yes', 'full'],
        ['?tag=x&tag=y', 'tag'],
        ['?tag=%zz', 'tag'],
        ['?tag=x&ratio=%E0%A4%A', 'ratio'],
      ]) {
        const bad = await call('GET', `/params/users/a/items/b${query}`);
        assert.equal(bad.status, 400, `${query}: ${bad.text}`);
        assert.equal(bad.body.code, 'invalid_request');
        assert.equal(bad.body.details[0].field, field);
      }
      assert.equal((await call('GET', '/params/users/a')).status, 404);
      const wrongMethod = await call('POST', '/params/users/a/items/b?tag=x', { json: {} });
      assert.equal(wrongMethod.status, 405);
      assert.equal(wrongMethod.body.code, 'method_not_allowed');
      assert.equal(wrongMethod.headers.get('allow'), 'GET, HEAD', 'a 405 names the methods the path has');
      // Methods no App route takes: the same 405 (they were a 404 "No route", as if the path did not exist).
      for (const method of ['PUT', 'PATCH', 'DELETE']) {
        const other = await call(method, '/params/users/a/items/b?tag=x', { json: {} });
        assert.equal(other.status, 405, `${method}: ${other.text}`);
        assert.equal(other.body.code, 'method_not_allowed');
        assert.equal(other.headers.get('allow'), 'GET, HEAD');
      }
      assert.equal((await call('DELETE', '/params/users/a')).status, 404);
    });

    test('the worked example: order status by order_id (find), checkout then a 302 redirect (create)', async () => {
      await createApp(shop);
      const missing = await call('GET', '/shop/orders/ORD-1/status', { key: testKey });
      assert.equal(missing.status, 404);
      assert.deepEqual(missing.body, { error: 'No order ORD-1' });
      const checkout = await fetch(`${server.url}/api/v1/apps/shop/checkout?environment=test`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ order_id: 'ORD-1', amount: 4500 }),
        redirect: 'manual',
      });
      assert.equal(checkout.status, 302);
      assert.equal(checkout.headers.get('location'), 'https://shop.example/thanks?order=ORD-1');
      const status = await call('GET', '/shop/orders/ORD-1/status', { key: testKey });
      assert.equal(status.status, 200);
      assert.deepEqual(status.body, { order_id: 'ORD-1', amount: 4500, paid: false });
      // The body schema of the route: 400 with details, nothing written.
      const invalid = await call('POST', '/shop/checkout?environment=test', { json: { order_id: 'ORD-2' } });
      assert.equal(invalid.status, 400);
      assert.equal(invalid.body.code, 'validation_failed');
      assert.deepEqual(invalid.body.details, [{ field: 'amount', error: 'Required field is missing' }]);
      // Public without ?environment: live, which has no deployed version yet.
      assert.equal(
        (await call('POST', '/shop/checkout', { json: { order_id: 'L', amount: 1 } })).status,
        403,
      );
    });

    test('find with equality and range filters, order and limit; get, optional get', async () => {
      for (const [order_id, amount] of [
        ['F-1', 10],
        ['F-2', 20],
        ['F-3', 30],
        ['F-4', 40],
      ] as const) {
        const res = await server.request('POST', '/api/v1/data/orders', {
          key: liveKey,
          json: { order_id, amount, paid: amount > 20 },
        });
        assert.equal(res.status, 202);
      }
      await createApp({
        slug: 'finder',
        name: 'Finder',
        routes: [
          {
            method: 'GET',
            path: '/orders',
            query: [
              { name: 'min', type: 'integer', default: 0 },
              { name: 'max', type: 'integer' },
              { name: 'paid', type: 'boolean' },
              { name: 'limit', type: 'integer', default: 10 },
            ],
            steps: [
              {
                name: 'found',
                type: 'find',
                endpoint: 'orders',
                filter: { amount: { gte: 'query.min', lt: 'query.max' }, paid: 'query.paid' },
                order: { field: 'amount', direction: 'desc' },
                limit: 'query.limit',
              },
              { name: 'ids', type: 'transform', expression: '[found.data.order_id]' },
            ],
          },
          {
            method: 'GET',
            path: '/orders/:id',
            steps: [
              { name: 'one', type: 'get', endpoint: 'orders', id: 'params.id', optional: true },
              { name: 'out', type: 'transform', expression: "one ? one.data.order_id : 'none'" },
            ],
          },
          {
            method: 'GET',
            path: '/strict/:id',
            steps: [{ name: 'one', type: 'get', endpoint: 'orders', id: 'params.id' }],
          },
          {
            // A limit and a status from optional parameters: not given, their defaults hold.
            method: 'GET',
            path: '/few',
            query: [
              { name: 'n', type: 'integer' },
              { name: 'code', type: 'integer' },
            ],
            steps: [
              {
                name: 'found',
                type: 'find',
                endpoint: 'orders',
                order: { field: 'amount', direction: 'desc' },
                limit: 'query.n',
              },
              { name: 'out', type: 'respond', status: 'query.code', body: '[found.data.order_id]' },
            ],
          },
        ],
      });
      await server.admin('POST', '/admin/v1/apps/finder/deploy');
      const few = await call('GET', '/finder/few', { key: liveKey });
      assert.equal(few.status, 200, few.text);
      assert.deepEqual(few.body, ['F-4', 'F-3', 'F-2', 'F-1']);
      const fewer = await call('GET', '/finder/few?n=1&code=201', { key: liveKey });
      assert.equal(fewer.status, 201, fewer.text);
      assert.deepEqual(fewer.body, ['F-4']);
      const get = (q: string) => call('GET', `/finder/orders${q}`, { key: liveKey });
      assert.deepEqual((await get('')).body.data, ['F-4', 'F-3', 'F-2', 'F-1']);
      assert.deepEqual((await get('?min=20&max=40')).body.data, ['F-3', 'F-2']);
      assert.deepEqual((await get('?paid=true')).body.data, ['F-4', 'F-3']);
      assert.deepEqual((await get('?limit=2')).body.data, ['F-4', 'F-3']);
      const badLimit = await get('?limit=500');
      assert.equal(badLimit.status, 500);
      assert.equal(badLimit.body.code, 'app_step_failed');
      assert.match(badLimit.body.error, /Step "found"/);
      // Test keys see test records only: the same route over the draft finds nothing.
      const testOnly = await server.createKey({ name: 'ft', environment: 'test', scopes: ['apps:finder'] });
      const testIds = (await call('GET', '/finder/orders', { key: testOnly.key })).body.data as string[];
      assert.ok(!testIds.some((i) => i.startsWith('F-')), testIds.join());

      const list = await server.request('GET', '/api/v1/data/orders?filter[order_id]=F-2', { key: liveKey });
      const id = list.body.data[0].id;
      assert.equal((await call('GET', `/finder/orders/${id}`, { key: liveKey })).body.data, 'F-2');
      assert.equal((await call('GET', '/finder/orders/rec_nope', { key: liveKey })).body.data, 'none');
      const strict = await call('GET', '/finder/strict/rec_nope', { key: liveKey });
      assert.equal(strict.status, 404);
      assert.equal(strict.body.code, 'record_not_found');
      assert.match(strict.body.error, /Step "one"/);
    });

    test('create, update and delete validate like the data API and fire the same webhooks', async () => {
      const r = await startReceiver();
      receivers.push(r);
      const sub = await server.admin('POST', '/admin/v1/endpoints/orders/webhooks', {
        url: r.url,
        environment: 'test',
      });
      assert.equal(sub.status, 201, sub.text);
      await createApp({
        slug: 'writer',
        name: 'Writer',
        routes: [
          {
            method: 'POST',
            path: '/orders',
            steps: [
              { name: 'created', type: 'create', endpoint: 'orders', data: 'body' },
              { name: 'out', type: 'respond', status: 201, body: 'created' },
            ],
          },
          {
            method: 'POST',
            path: '/orders/:id/pay',
            steps: [
              { name: 'current', type: 'get', endpoint: 'orders', id: 'params.id' },
              {
                name: 'updated',
                type: 'update',
                endpoint: 'orders',
                id: 'params.id',
                data: "$merge([current.data, { 'paid': true }, body])",
              },
            ],
          },
          {
            method: 'POST',
            path: '/orders/:id/delete',
            steps: [{ name: 'gone', type: 'delete', endpoint: 'orders', id: 'params.id' }],
          },
        ],
      });
      const key = (await server.createKey({ name: 'w', environment: 'test', scopes: ['apps:writer'] })).key;
      const invalid = await call('POST', '/writer/orders', { key, json: { order_id: 'W-1' } });
      assert.equal(invalid.status, 400);
      assert.equal(invalid.body.code, 'validation_failed');
      assert.match(invalid.body.error, /Step "created"/);
      assert.deepEqual(invalid.body.details, [{ field: 'amount', error: 'Required field is missing' }]);

      const created = await call('POST', '/writer/orders', { key, json: { order_id: 'W-1', amount: 5 } });
      assert.equal(created.status, 201, created.text);
      const id = created.body.id;
      assert.match(id, /^rec_/);
      assert.deepEqual(created.body.data, { order_id: 'W-1', amount: 5 });
      assert.equal(created.body.environment, 'test');

      const badUpdate = await call('POST', `/writer/orders/${id}/pay`, { key, json: { amount: -1 } });
      assert.equal(badUpdate.status, 400);
      assert.equal(badUpdate.body.details[0].field, 'amount');
      const paid = await call('POST', `/writer/orders/${id}/pay`, { key, json: {} });
      assert.equal(paid.status, 200, paid.text);
      assert.deepEqual(paid.body.data.data, { order_id: 'W-1', amount: 5, paid: true });
      assert.equal(paid.body.data.version, 2);
      const gone = await call('POST', `/writer/orders/${id}/delete`, { key });
      assert.deepEqual(gone.body.data, { id, object: 'record', endpoint: 'orders', deleted: true });
      const again = await call('POST', `/writer/orders/${id}/delete`, { key });
      assert.equal(again.status, 404);

      const got = await r.waitFor(3);
      const events = got.map((d) => JSON.parse(d.body) as { type: string; data: { record_id: string } });
      assert.deepEqual(
        events.map((e) => e.type),
        ['record.created', 'record.updated', 'record.deleted'],
      );
      assert.ok(events.every((e) => e.data.record_id === id));
      // The refused writes wrote nothing: only the three events above were ever produced.
      await new Promise((res) => setTimeout(res, 300));
      assert.equal(r.received.length, 3);
      await server.admin('DELETE', `/admin/v1/webhooks/${sub.body.data.id}`);
    });

    test('transform, respond with status and headers, text bodies, redirects (302 by default)', async () => {
      await createApp({
        slug: 'shapes',
        name: 'Shapes',
        routes: [
          {
            method: 'POST',
            path: '/sum',
            auth: 'public',
            steps: [
              { name: 'total', type: 'transform', expression: '$sum(body.items.(price * qty))' },
              {
                name: 'out',
                type: 'respond',
                status: 'total > 100 ? 202 : 200',
                headers: { 'X-Total': '$string(total)', 'Cache-Control': "'no-store'" },
                body: "{ 'total': total, 'env': environment, 'agent': headers.`user-agent`, 'auth': headers.authorization }",
              },
            ],
          },
          {
            method: 'GET',
            path: '/text',
            auth: 'public',
            steps: [
              {
                name: 'out',
                type: 'respond',
                headers: { 'Content-Type': "'text/plain; charset=utf-8'" },
                body: "'hello ' & headers.`x-name`",
              },
            ],
          },
          {
            method: 'GET',
            path: '/page',
            auth: 'public',
            query: [{ name: 'name', type: 'string' }],
            steps: [
              {
                name: 'out',
                type: 'respond',
                // An object's JSON sent as HTML: a browser would render it.
                headers: { 'Content-Type': "'text/html; charset=utf-8'" },
                body: "{ 'greeting': 'Hello ' & query.name }",
              },
            ],
          },
          {
            method: 'GET',
            path: '/jsonish',
            auth: 'public',
            query: [{ name: 'name', type: 'string' }],
            steps: [
              {
                name: 'out',
                type: 'respond',
                headers: { 'Content-Type': "'text/html; profile=json'" },
                body: "'<b>' & query.name & '</b>'",
              },
            ],
          },
          {
            method: 'GET',
            path: '/back',
            auth: 'public',
            query: [{ name: 'next', type: 'string' }],
            steps: [{ name: 'away', type: 'redirect', url: "'/' & query.next" }],
          },
          {
            method: 'GET',
            path: '/go/:where',
            auth: 'public',
            steps: [
              {
                name: 'temp',
                type: 'redirect',
                when: "params.where = 'temp'",
                url: "'/api/v1/apps/shapes/text'",
              },
              { name: 'perm', type: 'redirect', status: 308, url: "'https://example.com/' & params.where" },
            ],
          },
          {
            method: 'GET',
            path: '/echo/:v',
            auth: 'public',
            steps: [{ name: 'out', type: 'respond', headers: { 'X-Echo': 'params.v' }, body: "'ok'" }],
          },
        ],
      });
      const sum = await call('POST', '/shapes/sum?environment=test', {
        json: {
          items: [
            { price: 30, qty: 2 },
            { price: 50, qty: 1 },
          ],
        },
        headers: { 'user-agent': 'tests/1', authorization: 'hidden' },
      });
      // A public route verifies credentials when they are sent: "hidden" is no key.
      assert.equal(sum.status, 401);
      const ok = await call('POST', '/shapes/sum?environment=test', {
        json: {
          items: [
            { price: 30, qty: 2 },
            { price: 50, qty: 1 },
          ],
        },
        headers: { 'user-agent': 'tests/1', cookie: 'a=b' },
      });
      assert.equal(ok.status, 202, ok.text);
      assert.equal(ok.headers.get('x-total'), '110');
      assert.equal(ok.headers.get('cache-control'), 'no-store');
      assert.deepEqual(ok.body, { total: 110, env: 'test', agent: 'tests/1' });
      const text = await call('GET', '/shapes/text?environment=test');
      assert.equal(text.text, 'hello ');
      assert.match(text.headers.get('content-type') ?? '', /^text\/plain/);
      assert.equal(text.headers.get('content-security-policy'), 'sandbox');
      const xss = '<img src=x onerror=alert(1)>';
      for (const path of ['/shapes/page', '/shapes/jsonish']) {
        const page = await call('GET', `${path}?environment=test&name=${encodeURIComponent(xss)}`);
        assert.equal(page.status, 200, page.text);
        assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
        assert.equal(page.headers.get('content-security-policy'), 'sandbox', path);
        assert.ok(page.text.includes(xss), page.text);
      }
      // '/\\host' is another host to a browser, as '//host' is: neither leaves as a redirect.
      for (const next of ['\\evil.example/x', '/evil.example/x']) {
        const away = await fetch(
          `${server.url}/api/v1/apps/shapes/back?environment=test&next=${encodeURIComponent(next)}`,
          { redirect: 'manual' },
        );
        assert.equal(away.status, 500, next);
        assert.equal(away.headers.get('location'), null);
        assert.match(await away.text(), /path starting with/);
      }
      const home = await fetch(`${server.url}/api/v1/apps/shapes/back?environment=test&next=home`, {
        redirect: 'manual',
      });
      assert.equal(home.status, 302);
      assert.equal(home.headers.get('location'), '/home');
      const temp = await fetch(`${server.url}/api/v1/apps/shapes/go/temp?environment=test`, {
        redirect: 'manual',
      });
      assert.equal(temp.status, 302);
      assert.equal(temp.headers.get('location'), '/api/v1/apps/shapes/text');
      const perm = await fetch(`${server.url}/api/v1/apps/shapes/go/there?environment=test`, {
        redirect: 'manual',
      });
      assert.equal(perm.status, 308);
      assert.equal(perm.headers.get('location'), 'https://example.com/there');
      // Text past ASCII leaves percent-encoded, as a browser sends it; a control character is the
      // step's failure in the envelope (it was Node's raw 500, without a Request-Id).
      const accented = await fetch(`${server.url}/api/v1/apps/shapes/go/caf%C3%A9?environment=test`, {
        redirect: 'manual',
      });
      assert.equal(accented.status, 308);
      assert.equal(accented.headers.get('location'), 'https://example.com/caf%C3%A9');
      for (const path of [
        '/shapes/go/a%01b',
        '/shapes/echo/a%01b',
        '/shapes/echo/%C4%80',
        '/shapes/echo/a%0D%0Ab',
      ]) {
        const refused = await call('GET', `${path}?environment=test`);
        assert.equal(refused.status, 500, `${path}: ${refused.text}`);
        assert.equal(refused.body.code, 'app_step_failed', path);
        assert.match(refused.body.request_id, /^req_/);
        assert.equal(refused.headers.get('x-echo'), null);
      }
      assert.equal((await call('GET', '/shapes/echo/fine?environment=test')).headers.get('x-echo'), 'fine');
    });

    test('auth modes: API key scopes, JWT-only routes, public routes', async () => {
      await createApp({ slug: 'guarded', name: 'Guarded', routes: authModeRoutes });
      const scoped = (await server.createKey({ name: 'g', environment: 'test', scopes: ['apps:guarded'] }))
        .key;
      const other = (await server.createKey({ name: 'o', environment: 'test', scopes: ['apps:shop'] })).key;
      const missing = await call('GET', '/guarded/key');
      assert.equal(missing.status, 401);
      assert.equal(missing.body.code, 'missing_api_key');
      const wrong = await call('GET', '/guarded/key', { key: other });
      assert.equal(wrong.status, 403);
      assert.equal(wrong.body.code, 'insufficient_scope');
      assert.equal((await call('GET', '/guarded/key', { key: scoped })).body, 'key ok');
      assert.equal((await call('GET', '/guarded/key', { key: 'gk_test_bogus' })).status, 401);

      const token = (await server.request('POST', '/api/v1/tokens', { key: scoped, json: {} })).body.data
        .token;
      assert.equal((await call('GET', '/guarded/key', { key: token })).body, 'key ok');
      assert.equal((await call('GET', '/guarded/jwt', { key: token })).body, 'jwt ok');
      const rawKey = await call('GET', '/guarded/jwt', { key: scoped });
      assert.equal(rawKey.status, 401);
      assert.match(rawKey.body.error, /POST \/api\/v1\/tokens/);
      const otherToken = (await server.request('POST', '/api/v1/tokens', { key: other, json: {} })).body.data
        .token;
      assert.equal((await call('GET', '/guarded/jwt', { key: otherToken })).status, 403);

      assert.equal((await call('GET', '/guarded/open?environment=test')).body, 'test');
      assert.equal((await call('GET', '/guarded/open?environment=prod')).status, 400);
      assert.equal((await call('GET', '/guarded/open', { key: other })).body, 'test');
      assert.equal((await call('GET', '/nope/open')).status, 404);
    });

    test('an empty credential header is no credential: a public route serves the call, others answer missing_api_key', async () => {
      await createApp({ slug: 'blank', name: 'Blank', routes: authModeRoutes });
      const blanks: Array<Record<string, string>> = [
        { 'x-api-key': '' },
        { 'x-api-key': '   ' },
        { authorization: '' },
        { authorization: ' ' },
        { authorization: '', 'x-api-key': '' },
      ];
      for (const headers of blanks) {
        const label = JSON.stringify(headers);
        const open = await call('GET', '/blank/open?environment=test', { headers });
        assert.equal(open.status, 200, `${label}: ${open.text}`);
        assert.equal(open.body, 'test');
        // Live, as any call without credentials: the app is not deployed.
        assert.equal((await call('GET', '/blank/open', { headers })).body.code, 'app_not_deployed', label);
        for (const path of ['/blank/key', '/blank/jwt']) {
          const refused = await call('GET', path, { headers });
          assert.equal(refused.status, 401, `${label} ${path}`);
          assert.equal(refused.body.code, 'missing_api_key', `${label} ${path}`);
        }
      }
      // Beside a key, an empty header is not a second credential: the key is used, and its
      // environment (a call without credentials would run the draft here).
      const live = { 'x-api-key': '', authorization: `Bearer ${liveKey}` };
      assert.deepEqual((await call('GET', '/blank/open?environment=test', { headers: live })).body.details, [
        {
          field: 'environment',
          error: 'The live key calls live: leave ?environment out, or call with a test key',
        },
      ]);
      assert.equal(
        (await call('GET', '/blank/key', { headers: { authorization: '', 'x-api-key': liveKey } })).body.code,
        'app_not_deployed',
      );
      // A credential that is there but wrong is still refused on a public route.
      const wrong = await call('GET', '/blank/open?environment=test', { headers: { 'x-api-key': 'nope' } });
      assert.equal(wrong.status, 401);
      assert.equal(wrong.body.code, 'invalid_api_key');
    });

    test('no cache may store an app answer, unless the route sets its own Cache-Control', async () => {
      await createApp({
        slug: 'cached',
        name: 'Cached',
        routes: [
          { method: 'GET', path: '/mine', auth: 'apiKey', steps: respond('environment') },
          {
            method: 'GET',
            path: '/data',
            auth: 'apiKey',
            steps: [{ name: 'out', type: 'transform', expression: "{ 'environment': environment }" }],
          },
          {
            method: 'GET',
            path: '/away',
            auth: 'apiKey',
            steps: [{ name: 'go', type: 'redirect', url: "'https://shop.example/'" }],
          },
          {
            method: 'GET',
            path: '/static',
            auth: 'public',
            steps: [
              {
                name: 'r',
                type: 'respond',
                headers: { 'cache-control': "'public, max-age=60'" },
                body: "'the same for all'",
              },
            ],
          },
        ],
      });
      const key = (await server.createKey({ name: 'c', environment: 'test', scopes: ['apps:cached'] })).key;
      // What a key reads depends on the key (its environment, its scopes), sent in X-API-Key too.
      const answers = {
        respond: await call('GET', '/cached/mine', { headers: { 'x-api-key': key } }),
        data: await call('GET', '/cached/data', { headers: { 'x-api-key': key } }),
        refused: await call('GET', '/cached/mine'),
        unknown: await call('GET', '/cached/nothing-here', { headers: { 'x-api-key': key } }),
      };
      for (const [name, res] of Object.entries(answers)) {
        assert.ok(res.status < 500, `${name}: ${res.status}`);
        assert.equal(res.headers.get('cache-control'), 'no-store', name);
      }
      const away = await fetch(`${server.url}/api/v1/apps/cached/away`, {
        headers: { 'x-api-key': key },
        redirect: 'manual',
      });
      assert.equal(away.status, 302);
      assert.equal(away.headers.get('cache-control'), 'no-store', 'redirect');
      const own = await call('GET', '/cached/static?environment=test');
      assert.equal(own.status, 200, own.text);
      assert.equal(own.headers.get('cache-control'), 'public, max-age=60');
    });

    test('a valid key sent to a JWT-only route is refused without counting as a guessed key', async () => {
      const guarded = await startTestServer(kind, { GATEHOUSE_AUTH_FAILURE_LIMIT: '2' });
      try {
        const res = await guarded.admin('POST', '/admin/v1/apps', {
          slug: 'tokens-only',
          name: 'Tokens only',
          routes: [{ method: 'GET', path: '/jwt', auth: 'jwt', steps: respond("'jwt ok'") }],
        });
        assert.equal(res.status, 201, res.text);
        const key = (await guarded.createKey({ name: 'k', environment: 'test', scopes: ['*'] })).key;
        for (let i = 0; i < 4; i++) {
          const started = Date.now();
          const refused = await guarded.request('GET', '/api/v1/apps/tokens-only/jwt', { key });
          assert.equal(refused.status, 401, refused.text);
          assert.equal(refused.body.code, 'invalid_api_key');
          assert.ok(Date.now() - started < 150, 'not slowed down as a guess');
        }
        // The address is not blocked: a key it never used before still gets through.
        const fresh = (await guarded.createKey({ name: 'f', environment: 'test', scopes: ['*'] })).key;
        const other = await guarded.request('GET', '/api/v1/apps/tokens-only/jwt', { key: fresh });
        assert.equal(other.body.code, 'invalid_api_key', other.text);
        const data = await guarded.request('GET', '/api/v1/account', { key: fresh });
        assert.equal(data.status, 200, data.text);
      } finally {
        await guarded.close();
      }
    });

    test('expressions run within a time and size budget; the error names the step', async () => {
      await createApp({
        slug: 'budget',
        name: 'Budget',
        routes: [
          {
            method: 'GET',
            path: '/slow',
            auth: 'public',
            steps: [
              {
                name: 'spin',
                type: 'transform',
                expression: '$count([1..90000].($string($) & $string($ * 2)).$uppercase($))',
              },
            ],
          },
          {
            method: 'GET',
            path: '/deep',
            auth: 'public',
            steps: [
              {
                name: 'recurse',
                type: 'transform',
                expression: '($f := function($n){ $n = 0 ? 0 : 1 + $f($n - 1) }; $f(100000))',
              },
            ],
          },
          {
            method: 'GET',
            path: '/big',
            auth: 'public',
            steps: [
              {
                name: 'huge',
                type: 'transform',
                expression: '$pad("", 5000000, "x") & $pad("", 1000000, "y")',
              },
            ],
          },
          {
            method: 'GET',
            path: '/nested',
            auth: 'public',
            query: [{ name: 'q', type: 'string' }],
            steps: [{ name: 're', type: 'transform', expression: '$contains(query.q, /^(a+)+$/)' }],
          },
          {
            method: 'GET',
            path: '/bounded',
            auth: 'public',
            query: [{ name: 'q', type: 'string' }],
            steps: [{ name: 're', type: 'transform', expression: '$contains(query.q, /^(a|a){1,16}$/)' }],
          },
          {
            method: 'GET',
            path: '/evaled',
            auth: 'public',
            query: [{ name: 'q', type: 'string' }],
            // A regex built at run time is not checked at definition: it fails its step instead.
            steps: [
              {
                name: 'ev',
                type: 'transform',
                expression: '$eval("$contains(q, /^(a|a){1,40}$/)", {"q": query.q})',
              },
            ],
          },
          {
            method: 'GET',
            path: '/rope',
            auth: 'public',
            // 500 M characters built cheaply by $replace: refused before they are serialized.
            steps: [
              {
                name: 'rope',
                type: 'transform',
                expression: "$replace($pad('', 500, 'a'), 'a', $pad('', 1000000, 'x'))",
              },
            ],
          },
          {
            method: 'GET',
            path: '/overlap',
            auth: 'public',
            query: [{ name: 'q', type: 'string' }],
            steps: [{ name: 're', type: 'transform', expression: '$contains(query.q, /^(a|a)*$/)' }],
          },
          {
            method: 'GET',
            path: '/pad/:n',
            auth: 'public',
            steps: [{ name: 'wide', type: 'transform', expression: "$pad('x', $number(params.n), '_')" }],
          },
          {
            method: 'GET',
            path: '/fail',
            auth: 'public',
            steps: [{ name: 'oops', type: 'transform', expression: "$number('abc') + 1" }],
          },
          {
            method: 'GET',
            path: '/wrapped',
            auth: 'public',
            // Small but nested past the 1000-level limit; a few thousand levels overflowed
            // JSON.stringify (a bare 500). Just past the limit, so that a busy host does not run
            // into the step's 250 ms time budget first.
            steps: [
              {
                name: 'wrap',
                type: 'transform',
                expression: '$reduce([1..1010], function($a, $v){ {"a": $a} }, {})',
              },
            ],
          },
        ],
      });
      for (const [path, step] of [
        ['slow', 'spin'],
        ['deep', 'recurse'],
        ['big', 'huge'],
        ['wrapped', 'wrap'],
      ]) {
        const res = await call('GET', `/budget/${path}?environment=test`);
        assert.equal(res.status, 500, `${path}: ${res.text}`);
        assert.equal(res.body.code, 'app_budget_exceeded', `${path}: ${res.text}`);
        assert.match(res.body.error, new RegExp(`Step "${step}"`));
        assert.equal(res.body.details[0].field, `steps.${step}.expression`);
      }
      // One built-in call cannot be stopped midway: a $pad as wide as a caller asks is refused
      // before it starts (it used to abort the process), and the server goes on.
      const padded = await call('GET', '/budget/pad/200000000?environment=test');
      assert.equal(padded.status, 500, padded.text);
      assert.equal(padded.body.code, 'app_budget_exceeded');
      assert.match(padded.body.error, /Step "wide"/);
      assert.match(
        JSON.stringify(padded.body.details),
        /\$pad width 200000000 would build more than 1048576 bytes/,
      );
      assert.equal((await call('GET', '/budget/pad/-12?environment=test')).body.data, `${'_'.repeat(11)}x`);
      assert.equal((await server.request('GET', '/health')).status, 200);
      // Patterns that backtrack exponentially run in linear time: answered, not a held event loop
      // (each took seconds to minutes on 30 characters before).
      for (const path of ['nested', 'overlap', 'bounded']) {
        const matched = await call('GET', `/budget/${path}?environment=test&q=${'a'.repeat(40)}b`);
        assert.equal(matched.status, 200, matched.text);
        assert.equal(matched.body.data, false);
      }
      const evaled = await call('GET', `/budget/evaled?environment=test&q=${'a'.repeat(40)}b`);
      assert.equal(evaled.status, 500, evaled.text);
      assert.equal(evaled.body.code, 'app_step_failed');
      assert.match(JSON.stringify(evaled.body.details), /linear time/);
      const rope = await call('GET', '/budget/rope?environment=test');
      assert.equal(rope.status, 500, rope.text);
      assert.equal(rope.body.code, 'app_budget_exceeded');
      assert.match(rope.body.error, /Step "rope"/);
      const wrapped = await call('GET', '/budget/wrapped?environment=test');
      assert.match(wrapped.body.details[0].error, /nested more than 1000 levels deep/);
      const fail = await call('GET', '/budget/fail?environment=test');
      assert.equal(fail.status, 500);
      assert.equal(fail.body.code, 'app_step_failed');
      assert.match(fail.body.error, /Step "oops" failed/);
    });

    test('an app stored before newer definition checks keeps answering; saving it again is refused', async () => {
      const routes = [
        { method: 'GET', path: '/n', auth: 'public', steps: respond("(ordr ~> $count()) & ' found'") },
        { method: 'GET', path: '/x/../y', auth: 'public', steps: respond("'unreachable'") },
        {
          method: 'GET',
          path: '/t',
          auth: 'public',
          steps: [{ name: 'r', type: 'respond', headers: { trailer: "'x-sum'" }, body: "'sent'" }],
        },
      ];
      await createApp({ slug: 'piped', name: 'Piped', routes: [{ ...routes[0], steps: respond("'x'") }] });
      // As a version saved before ~> was checked stored it.
      await server.services.database.db
        .updateTable('apps')
        .set({ definition: JSON.stringify({ routes }), draft_revision: 50 })
        .where('slug', '=', 'piped')
        .execute();
      server.services.bus.publish('apps', 'piped');
      const res = await call('GET', '/piped/n?environment=test');
      assert.equal(res.status, 200, res.text);
      assert.equal(res.body, '0 found');
      const trailer = await call('GET', '/piped/t?environment=test');
      assert.equal(trailer.status, 200, trailer.text);
      assert.equal(trailer.body, 'sent');
      assert.equal(trailer.headers.get('trailer'), null);
      const resaved = await server.admin('PATCH', '/admin/v1/apps/piped', { routes });
      assert.equal(resaved.status, 400, resaved.text);
      assert.match(resaved.body.error, /Refers to "ordr"/);
      assert.match(JSON.stringify(resaved.body.details), /Segment \\"\.\.\\" is resolved away/);
    });

    test('an app saved before regexes had to run in linear time keeps answering; saving it again asks for a rewrite', async () => {
      const route = (expression: string) => ({
        method: 'GET',
        path: '/check',
        auth: 'public',
        query: [{ name: 'q', type: 'string' }],
        steps: [{ name: 're', type: 'transform', expression }],
      });
      await createApp({ slug: 'older', name: 'Older', routes: [route('$contains(query.q, /^[a-z]+$/)')] });
      assert.equal((await server.admin('POST', '/admin/v1/apps/older/deploy')).status, 201);
      // As an older version stored it: a bounded repeat past 16, which is refused today.
      const older = JSON.stringify({ routes: [route('$contains(query.q, /^[a-z]{1,20}$/)')] });
      const db = server.services.database.db;
      const now = new Date().toISOString();
      await db
        .updateTable('apps')
        .set({ definition: older, draft_revision: 99, live_version: 2 })
        .where('slug', '=', 'older')
        .execute();
      await db
        .insertInto('app_versions')
        .values({ app_slug: 'older', version: 2, name: 'Older', definition: older, created_at: now })
        .execute();
      server.services.bus.publish('apps', 'older');
      for (const environment of ['test', 'live']) {
        const res = await call('GET', `/older/check?environment=${environment}&q=${'a'.repeat(20)}`);
        assert.equal(res.status, 200, `${environment}: ${res.text}`);
        assert.equal(res.body.data, true, environment);
        const tooLong = await call('GET', `/older/check?environment=${environment}&q=${'a'.repeat(21)}`);
        assert.equal(tooLong.body.data, false, environment);
      }
      // A stored definition that does not compile at all (edited by hand): that app answers with
      // the reason; the API documents still list everything else.
      await db
        .updateTable('apps')
        .set({ definition: JSON.stringify({ routes: [route('$contains(')] }), draft_revision: 100 })
        .where('slug', '=', 'older')
        .execute();
      server.services.bus.publish('apps', 'older');
      assert.equal((await call('GET', '/older/check?environment=test&q=a')).status, 400);
      const docs = await server.request('GET', '/docs/openapi.json');
      assert.equal(docs.status, 200, docs.text);
      assert.ok(docs.body.paths['/api/v1/data/orders']);
      const resaved = await server.admin('PATCH', '/admin/v1/apps/older', {
        routes: [route('$contains(query.q, /^[a-z]{1,20}$/)')],
      });
      assert.equal(resaved.status, 400, resaved.text);
      assert.match(resaved.text, /cannot run in linear time/);
    });

    test('bodies up to 5 MiB are taken, larger ones are 413', async () => {
      await createApp({
        slug: 'upload',
        name: 'Upload',
        routes: [
          {
            method: 'POST',
            path: '/blob',
            auth: 'public',
            steps: [{ name: 'size', type: 'transform', expression: '$length(body.blob)' }],
          },
          {
            method: 'POST',
            path: '/whole',
            auth: 'public',
            // The body passed on whole through a step, as `data: "body"` would: within the budget.
            steps: [
              { name: 'copy', type: 'transform', expression: 'body' },
              { name: 'size', type: 'transform', expression: '$length(copy.blob)' },
            ],
          },
        ],
      });
      const limit = 5 * 1024 * 1024;
      const exact = `{"blob":"${'x'.repeat(limit - 11)}"}`;
      assert.equal(Buffer.byteLength(exact), limit);
      const ok = await call('POST', '/upload/blob?environment=test', {
        raw: exact,
        headers: { 'content-type': 'application/json' },
      });
      assert.equal(ok.status, 200, ok.text.slice(0, 200));
      assert.equal(ok.body.data, limit - 11);
      const whole = await call('POST', '/upload/whole?environment=test', {
        raw: exact,
        headers: { 'content-type': 'application/json' },
      });
      assert.equal(whole.status, 200, whole.text.slice(0, 200));
      assert.equal(whole.body.data, limit - 11);
      const over = await call('POST', '/upload/blob?environment=test', {
        raw: `{"blob":"${'x'.repeat(limit - 10)}"}`,
        headers: { 'content-type': 'application/json' },
      });
      assert.equal(over.status, 413);
      assert.equal(over.body.code, 'payload_too_large');
    });

    test('rate limits and usage apply to app routes as to the data API', async () => {
      const limited = await server.createKey({
        name: 'rl',
        environment: 'test',
        scopes: ['apps:shop'],
        limits: { per_minute: 2 },
      });
      const statuses: number[] = [];
      for (let i = 0; i < 3; i++) {
        const res = await call('GET', '/shop/orders/ORD-1/status', { key: limited.key });
        statuses.push(res.status);
        if (i === 0) assert.equal(res.headers.get('x-ratelimit-limit'), '2');
      }
      assert.deepEqual(statuses, [200, 200, 429]);
      await server.services.traffic.usage.flush();
      const usage = await server.admin('GET', `/admin/v1/usage?key_id=${limited.id}&group_by=endpoint`);
      assert.equal(usage.status, 200, usage.text);
      // Metered under the app's label, with the refused call counted as rate limited.
      assert.deepEqual(
        usage.body.data.rows.map((r: { endpoint: string; count: number; rate_limited: number }) => [
          r.endpoint,
          r.count,
          r.rate_limited,
        ]),
        [['apps:shop', 3, 1]],
      );
      // Calls that fail before a route runs (unknown app or route, outside the scope) are
      // charged too, carry the headers, and are refused once the key is used up.
      const strict = await server.createKey({
        name: 'rl2',
        environment: 'test',
        scopes: ['apps:shop'],
        limits: { per_minute: 3 },
      });
      const missing = await call('GET', '/nope/x', { key: strict.key });
      assert.equal(missing.status, 404);
      assert.equal(missing.headers.get('x-ratelimit-remaining'), '2');
      const noRoute = await call('GET', '/shop/none', { key: strict.key });
      assert.equal(noRoute.status, 404);
      assert.equal(noRoute.headers.get('x-ratelimit-remaining'), '1');
      assert.equal((await call('GET', '/finder/orders', { key: strict.key })).status, 403);
      const used = await call('GET', '/nope/x', { key: strict.key });
      assert.equal(used.status, 429, 'a used-up key is refused before the app is looked up');
      assert.equal((await call('GET', '/shop/orders/ORD-1/status', { key: strict.key })).status, 429);
    });

    test("an app's own URL, with no route part, is checked and charged like any unknown route", async () => {
      const strict = await server.createKey({
        name: 'rl-root',
        environment: 'test',
        scopes: ['apps:shop'],
        limits: { per_minute: 2 },
      });
      for (const path of ['/shop', '/shop?x=1']) {
        const res = await call('GET', path, { key: strict.key });
        assert.equal(res.status, 404, res.text);
        assert.equal(res.body.code, 'not_found');
        assert.notEqual(res.headers.get('x-ratelimit-remaining'), null, `${path} is charged to the key`);
      }
      assert.equal((await call('GET', '/shop', { key: strict.key })).status, 429);
      const unknown = await call('POST', '/nope', { key: testKey, json: {} });
      assert.equal(unknown.status, 404);
      assert.equal(unknown.body.code, 'app_not_found');
      const badKey = await call('GET', '/shop', { key: 'gh_test_not_a_real_key' });
      assert.equal(badKey.status, 401, 'the key is verified first, as on every app path');
    });

    test('Idempotency-Key on an App API POST is refused with a 400, and nothing is written', async () => {
      await createApp({
        slug: 'idem',
        name: 'Idem',
        routes: [
          {
            method: 'POST',
            path: '/orders',
            steps: [{ name: 'order', type: 'create', endpoint: 'orders', data: 'body' }],
          },
        ],
      });
      const { key } = await server.createKey({ name: 'idem', environment: 'test' });
      const res = await call('POST', '/idem/orders', {
        key,
        json: { order_id: 'IDEM-1', amount: 5 },
        headers: { 'idempotency-key': 'once-only' },
      });
      assert.equal(res.status, 400, res.text);
      assert.equal(res.body.details[0].field, 'Idempotency-Key');
      const listed = await server.request('GET', '/api/v1/data/orders?filter[order_id]=IDEM-1', { key });
      assert.deepEqual(listed.body.data, [], 'nothing was written');
      const plain = await call('POST', '/idem/orders', { key, json: { order_id: 'IDEM-2', amount: 5 } });
      assert.equal(plain.status, 200, plain.text);
      await server.admin('DELETE', '/admin/v1/apps/idem');
    });

    test('the OpenAPI document of each environment lists the app routes', async () => {
      const doc = (await server.request('GET', '/api/v1/openapi.json', { key: testKey })).body;
      const status = doc.paths['/api/v1/apps/shop/orders/{order_id}/status'];
      assert.ok(status?.get, Object.keys(doc.paths).join(', '));
      assert.deepEqual(status.get.parameters[0], {
        name: 'order_id',
        in: 'path',
        required: true,
        schema: { type: 'string' },
      });
      // What each route answers: its respond and redirect steps' statuses, and what a POST may get.
      assert.deepEqual(
        Object.keys(status.get.responses).filter((s) => s < '300'),
        ['200'],
      );
      assert.match(status.get.responses[404].description, /respond step "missing"/);
      const checkout = doc.paths['/api/v1/apps/shop/checkout'].post;
      assert.deepEqual(checkout.security, []);
      assert.ok(checkout.responses[302]?.headers?.Location, 'the redirect step is documented');
      assert.equal(checkout.responses[200], undefined, 'checkout always ends in its redirect');
      assert.ok(checkout.responses[415] && checkout.responses[413]);
      assert.deepEqual(
        checkout.parameters.find((p: { name: string }) => p.name === 'environment')?.schema,
        { enum: ['test', 'live'], default: 'live' },
        'a public route takes ?environment=test',
      );
      const resolved = (await SwaggerParser.dereference(structuredClone(doc))) as typeof doc;
      assert.deepEqual(
        resolved.paths['/api/v1/apps/shop/checkout'].post.requestBody.content['application/json'].schema
          .required,
        ['order_id', 'amount'],
      );
      const live = (await server.request('GET', '/api/v1/openapi.json', { key: liveKey })).body;
      await SwaggerParser.validate(structuredClone(doc));
      await SwaggerParser.validate(structuredClone(live));
      assert.equal(live.paths['/api/v1/apps/shop/checkout'], undefined);
      assert.ok(live.paths['/api/v1/apps/finder/orders']?.get);
    });

    test('CLI: apps create --file, deploy, list, get, delete', async () => {
      const cli = managementCli(server);
      const dir = mkdtempSync(join(tmpdir(), 'gatehouse-apps-'));
      const file = join(dir, 'app.json');
      writeFileSync(
        file,
        JSON.stringify({
          slug: 'cli-app',
          name: 'CLI',
          routes: [{ method: 'GET', path: '/hi', steps: respond("'hi'") }],
        }),
      );
      const created = await cli('apps', 'create', '--file', file, '--json');
      assert.equal(created.code, 0, created.stdout);
      assert.equal(JSON.parse(created.stdout).data.slug, 'cli-app');
      const deployed = await cli('apps', 'deploy', 'cli-app', '--json');
      assert.equal(deployed.code, 0, deployed.stdout);
      assert.equal(JSON.parse(deployed.stdout).data.live_version, 1);
      assert.equal((await call('GET', '/cli-app/hi', { key: liveKey })).body, 'hi');
      const table = await cli('apps', 'list');
      assert.match(table.stdout, /cli-app/);
      writeFileSync(file, JSON.stringify({ routes: [{ method: 'GET', path: 'hi', steps: respond("'x'") }] }));
      const refused = await cli('apps', 'update', 'cli-app', '--file', file, '--json');
      assert.notEqual(refused.code, 0);
      assert.match(refused.stdout, /invalid_app/);
      const unconfirmed = await cli('apps', 'delete', 'cli-app');
      assert.equal(unconfirmed.code, 1);
      assert.match(unconfirmed.stderr, /This deletes app cli-app .* add --yes to go ahead/);
      assert.equal((await server.admin('GET', '/admin/v1/apps/cli-app')).status, 200, 'not deleted');
      assert.equal((await cli('apps', 'delete', 'cli-app', '--yes')).code, 0);
      rmSync(dir, { recursive: true, force: true });
    });

    test('CLI: apps update --file refuses a file whose slug names another app; none or the same slug updates', async () => {
      const cli = managementCli(server);
      const dir = mkdtempSync(join(tmpdir(), 'gatehouse-apps-'));
      const file = join(dir, 'app.json');
      const routes = [{ method: 'GET', path: '/hi', steps: respond("'hi'") }];
      for (const slug of ['cli-one', 'cli-two']) {
        const made = await server.admin('POST', '/admin/v1/apps', { slug, name: slug, routes });
        assert.equal(made.status, 201, JSON.stringify(made.body));
      }
      const names = async () =>
        Promise.all(
          ['cli-one', 'cli-two'].map(async (slug) => {
            const app = (await server.admin('GET', `/admin/v1/apps/${slug}`)).body.data;
            return [app.name, app.draft_revision];
          }),
        );
      const before = await names();

      writeFileSync(file, JSON.stringify({ slug: 'cli-two', name: 'Renamed', routes }));
      const refused = await cli('apps', 'update', 'cli-one', '--file', file);
      assert.equal(refused.code, 1);
      assert.match(
        refused.stderr,
        /is the definition of app "cli-two", not of "cli-one": nothing was changed .*\(cli_usage\)/,
      );
      const json = await cli('apps', 'update', 'cli-one', '--file', file, '--json');
      assert.equal(json.code, 1);
      assert.equal(JSON.parse(json.stdout).code, 'cli_usage');
      writeFileSync(file, JSON.stringify({ slug: 7, name: 'Renamed', routes }));
      assert.equal((await cli('apps', 'update', 'cli-one', '--file', file)).code, 1);
      assert.deepEqual(await names(), before, 'neither app was changed');

      writeFileSync(file, JSON.stringify({ slug: 'cli-one', name: 'Same slug', routes }));
      const same = await cli('apps', 'update', 'cli-one', '--file', file, '--json');
      assert.equal(same.code, 0, same.stdout);
      assert.equal(JSON.parse(same.stdout).data.name, 'Same slug');
      writeFileSync(file, JSON.stringify({ name: 'No slug', routes }));
      const none = await cli('apps', 'update', 'cli-one', '--file', file, '--json');
      assert.equal(none.code, 0, none.stdout);
      assert.equal(JSON.parse(none.stdout).data.name, 'No slug');
      for (const slug of ['cli-one', 'cli-two']) await server.admin('DELETE', `/admin/v1/apps/${slug}`);
      rmSync(dir, { recursive: true, force: true });
    });
  });
}
