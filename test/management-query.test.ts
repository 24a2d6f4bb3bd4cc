import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { databaseKinds } from './helpers/database.ts';
import { type ApiResponse, ordersSchema, startTestServer, type TestServer } from './helpers/server.ts';

type Parameter = { name: string; in: string; style?: string };
type Operation = { parameters?: Parameter[] };

/** The one answer to a query parameter the route does not take. */
function assertUnknown(res: ApiResponse, name: string, error: string, label = ''): void {
  assert.equal(res.status, 400, `${label} ${res.text}`);
  assert.equal(res.body.code, 'invalid_request', label);
  assert.equal(res.body.error, 'Invalid request', label);
  assert.deepEqual(res.body.details, [{ field: name, error }], label);
}

const NONE = 'Unknown query parameter: this route takes none';
const KEYS = 'Unknown query parameter (use environment)';
const DELIVERIES =
  'Unknown query parameter (use endpoint, environment, record_id, request_id, status, event_type, limit or after)';

/**
 * Every management route refuses a query parameter it does not take (400 naming it and what the
 * route takes), instead of answering as if nothing had been sent: `?cursor=` on a list that does
 * not page, or a misspelt filter, got the whole list. What the routes take still works, and is
 * what the OpenAPI document lists.
 */
for (const kind of databaseKinds) {
  describe(`management API: unknown query parameters (${kind})`, () => {
    let server: TestServer;
    let keyId: string;
    let webhookId: string;

    before(async () => {
      server = await startTestServer(kind);
      await server.createEndpoint({ slug: 'orders', name: 'Orders', schema: ordersSchema });
      assert.equal((await server.admin('POST', '/admin/v1/endpoints/orders/deploy')).status, 201);
      keyId = (await server.createKey({ name: 'test key', environment: 'test' })).id;
      await server.createKey({ name: 'live key', environment: 'live' });
      const hook = await server.admin('POST', '/admin/v1/endpoints/orders/webhooks', {
        url: 'https://example.com/hook',
        environment: 'test',
        events: ['record.created'],
      });
      assert.equal(hook.status, 201, hook.text);
      webhookId = hook.body.data.id;
    });
    after(() => server.close());

    test('a list refuses a parameter it does not take, naming it and the ones it takes', async () => {
      const cases: Array<[path: string, name: string, error: string]> = [
        // Paging a list that does not page: it answered every key.
        ['/admin/v1/keys?limit=10&cursor=abc', 'limit', KEYS],
        ['/admin/v1/keys?enviroment=live', 'enviroment', KEYS],
        ['/admin/v1/endpoints?limit=10', 'limit', NONE],
        ['/admin/v1/deliveries?state=failed', 'state', DELIVERIES],
        [
          '/admin/v1/webhooks?status=failed',
          'status',
          'Unknown query parameter (use environment or enabled)',
        ],
        [
          '/admin/v1/usage?key=k&group_by=day',
          'key',
          'Unknown query parameter (use from, to, key_id, endpoint, environment, status_class, status or group_by)',
        ],
        [
          '/admin/v1/audit?user=owner@example.com',
          'user',
          'Unknown query parameter (use actor, action, after or limit)',
        ],
        [
          '/admin/v1/console/orders/records?where=paid',
          'where',
          'Unknown query parameter (use limit, order, after or filter[field])',
        ],
      ];
      for (const [path, name, error] of cases)
        assertUnknown(await server.admin('GET', path), name, error, path);
    });

    test('a single resource refuses any query parameter: it takes none', async () => {
      for (const path of [
        `/admin/v1/keys/${keyId}?fields=name`,
        '/admin/v1/endpoints/orders?version=1',
        `/admin/v1/webhooks/${webhookId}?expand=endpoint`,
        '/admin/v1/deliveries/del_nothere?include=attempts',
        '/admin/v1/endpoints/orders/versions?limit=1',
      ]) {
        const name = (path.split('?')[1] ?? '').split('=')[0] ?? '';
        assertUnknown(await server.admin('GET', path), name, NONE, path);
      }
    });

    test('the parameters a route takes still work', async () => {
      const live = await server.admin('GET', '/admin/v1/keys?environment=live');
      assert.equal(live.status, 200, live.text);
      assert.deepEqual(
        live.body.data.map((k: { name: string }) => k.name),
        ['live key'],
      );
      const hooks = await server.admin('GET', '/admin/v1/webhooks?environment=test&enabled=true');
      assert.equal(hooks.status, 200, hooks.text);
      assert.equal(hooks.body.data.length, 1);
      const deliveries = await server.admin(
        'GET',
        '/admin/v1/deliveries?status=failed&endpoint=orders&limit=5',
      );
      assert.equal(deliveries.status, 200, deliveries.text);
      assert.deepEqual(deliveries.body.meta, { next_cursor: null, limit: 5 });
      const usage = await server.admin('GET', '/admin/v1/usage?from=2026-01-01&to=2026-01-31&group_by=day');
      assert.equal(usage.status, 200, usage.text);
      assert.deepEqual(usage.body.data.group_by, ['day']);
      const audit = await server.admin('GET', '/admin/v1/audit?action=key&limit=1');
      assert.equal(audit.status, 200, audit.text);
      assert.equal(audit.body.data[0].action, 'key.create');
      const history = await server.admin('GET', '/admin/v1/test-requests?limit=5');
      assert.equal(history.status, 200, history.text);
      const console = await server.admin('GET', '/admin/v1/console/orders/records?filter[paid]=true&limit=2');
      assert.equal(console.status, 200, console.text);
      assert.equal(console.body.meta.limit, 2);
      const exported = await server.admin('GET', '/admin/v1/endpoints/orders/export?environment=live');
      assert.equal(exported.status, 200, exported.text);
      // A public route: its token is looked up, not refused as a parameter.
      const invite = await server.request('GET', '/admin/v1/invites/lookup?token=nope');
      assert.equal(invite.status, 404, invite.text);
      assert.equal(invite.body.code, 'invite_not_found');
    });

    test('a refused write changes nothing and is not logged', async () => {
      const keys = async () => (await server.admin('GET', '/admin/v1/keys')).body.data.length;
      const auditEntries = async () =>
        (await server.admin('GET', '/admin/v1/audit?limit=200')).body.data.length;
      const [keysBefore, auditBefore] = [await keys(), await auditEntries()];
      const made = await server.request('POST', '/admin/v1/keys?x=1', {
        token: server.token,
        json: { name: 'not made', environment: 'test' },
      });
      assertUnknown(made, 'x', NONE);
      const renamed = await server.request('PATCH', `/admin/v1/keys/${keyId}?dry_run=true`, {
        token: server.token,
        json: { name: 'renamed' },
      });
      assertUnknown(renamed, 'dry_run', NONE);
      const revoked = await server.request('POST', `/admin/v1/keys/${keyId}/revoke?confirm=yes`, {
        token: server.token,
      });
      assertUnknown(revoked, 'confirm', NONE);
      const deleted = await server.request('DELETE', '/admin/v1/endpoints/orders?force=true', {
        token: server.token,
      });
      assertUnknown(deleted, 'force', NONE);
      const imported = await server.request('POST', '/admin/v1/endpoints/orders/import?dryrun=true', {
        token: server.token,
        json: { records: [{ order_id: 'o1', amount: 1 }] },
      });
      assertUnknown(
        imported,
        'dryrun',
        'Unknown query parameter (use environment, strict, webhooks or dry_run)',
      );

      assert.equal(await keys(), keysBefore);
      const key = (await server.admin('GET', `/admin/v1/keys/${keyId}`)).body.data;
      assert.equal(key.name, 'test key');
      assert.equal(key.status, 'active');
      assert.equal((await server.admin('GET', '/admin/v1/endpoints/orders')).status, 200);
      const records = await server.admin('GET', '/admin/v1/endpoints/orders/export?environment=test');
      assert.equal(records.text, '');
      assert.equal(await auditEntries(), auditBefore);
    });

    test('credentials are checked first: no token is a 401, whatever the query', async () => {
      const res = await server.request('GET', '/admin/v1/keys?cursor=abc');
      assert.equal(res.status, 401, res.text);
      assert.equal(res.body.code, 'unauthorized');
    });

    test('every route takes what the OpenAPI document lists, and refuses anything else', async () => {
      const doc = (await server.admin('GET', '/admin/v1/openapi.json')).body;
      const paths = doc.paths as Record<string, Record<string, Operation>>;
      assert.deepEqual(
        (paths['/admin/v1/keys']?.get?.parameters ?? []).map((p) => `${p.in} ${p.name}`),
        ['query environment'],
      );
      let routes = 0;
      for (const [template, item] of Object.entries(paths)) {
        for (const [method, op] of Object.entries(item)) {
          const path = template.replace(/\{[^}]+\}/g, 'x');
          const call = (query: string) =>
            server.request(method.toUpperCase(), `${path}?${query}`, {
              token: server.token,
              json: method === 'get' || method === 'delete' ? undefined : {},
            });
          const label = `${method.toUpperCase()} ${template}`;
          const taken = (op.parameters ?? []).filter((p) => p.in === 'query');
          const res = await call('not_a_parameter=1');
          assert.equal(res.status, 400, `${label}: ${res.text}`);
          assert.equal(res.body.details[0].field, 'not_a_parameter', label);
          assert.match(res.body.details[0].error, /^Unknown query parameter/, label);
          for (const name of taken.map((p) => p.name)) {
            assert.match(res.body.details[0].error, new RegExp(`\\b${name}\\b`), `${label} lists ${name}`);
          }
          if (taken.length === 0) assert.equal(res.body.details[0].error, NONE, label);
          for (const p of taken) {
            const sent = p.style === 'deepObject' ? `${p.name}[order_id]=o1` : `${p.name}=test`;
            const answer = await call(sent);
            assert.doesNotMatch(answer.text, /Unknown query parameter/, `${label}?${sent}: ${answer.text}`);
          }
          routes++;
        }
      }
      assert.ok(routes >= 60, `only ${routes} routes`);
    });
  });
}
