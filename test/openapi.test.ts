import assert from 'node:assert/strict';
import { get } from 'node:http';
import { after, before, describe, test } from 'node:test';
import SwaggerParser from '@apidevtools/swagger-parser';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { OPENAPI_CACHE_SIZE, openApiCache } from '../src/docs/routes.ts';
import { MAX_REQUEST_BYTES } from '../src/http/json-body.ts';
import { databaseKinds } from './helpers/database.ts';
import { ordersSchema, startTestServer, type TestServer } from './helpers/server.ts';

for (const kind of databaseKinds) {
  describe(`OpenAPI documents and /docs (${kind})`, () => {
    let server: TestServer;
    let testKey: string;
    let liveKey: string;

    before(async () => {
      server = await startTestServer(kind);
      await server.createEndpoint({ slug: 'orders', name: 'Orders', schema: ordersSchema });
      await server.createEndpoint({
        slug: 'line-items',
        name: 'Line items',
        schema: { type: 'object', properties: { sku: { type: 'string' } } },
      });
      await server.admin('POST', '/admin/v1/endpoints/orders/deploy');
      testKey = (await server.createKey({ name: 't', environment: 'test' })).key;
      liveKey = (await server.createKey({ name: 'l', environment: 'live' })).key;
    });
    after(() => server.close());

    test("a scoped key's document has only the data operations its scopes allow", async () => {
      const readOrders = (
        await server.createKey({
          name: 'ro',
          environment: 'test',
          scopes: ['orders:read', 'line-items:write'],
        })
      ).key;
      const doc = (await server.request('GET', '/api/v1/openapi.json', { key: readOrders })).body;
      await SwaggerParser.validate(structuredClone(doc));
      assert.deepEqual(Object.keys(doc.paths['/api/v1/data/orders']), ['get']);
      assert.deepEqual(Object.keys(doc.paths['/api/v1/data/orders/{record_id}']), ['get']);
      assert.deepEqual(Object.keys(doc.paths['/api/v1/data/line-items']), ['post']);
      assert.deepEqual(Object.keys(doc.paths['/api/v1/data/line-items/{record_id}']).sort(), [
        'delete',
        'put',
      ]);
      assert.ok(doc.paths['/api/v1/account'].get);
      // Every key sees all it may use: '*' and records:read too.
      const everything = (await server.request('GET', '/api/v1/openapi.json', { key: testKey })).body;
      assert.deepEqual(Object.keys(everything.paths['/api/v1/data/orders']).sort(), ['get', 'post']);
      const reader = (await server.createKey({ name: 'r', environment: 'test', scopes: ['records:read'] }))
        .key;
      const reads = (await server.request('GET', '/api/v1/openapi.json', { key: reader })).body;
      assert.deepEqual(Object.keys(reads.paths['/api/v1/data/line-items']), ['get']);
      assert.deepEqual(Object.keys(reads.paths['/api/v1/data/orders']), ['get']);
    });

    test("a scoped key's document keeps only the App routes it may call and the schemas still used", async () => {
      const route = (path: string, auth: string) => ({
        method: 'GET',
        path,
        auth,
        steps: [{ name: 'out', type: 'respond', body: "'ok'" }],
      });
      const made = await server.admin('POST', '/admin/v1/apps', {
        slug: 'portal',
        name: 'Portal',
        routes: [route('/open', 'public'), route('/closed', 'apiKey')],
      });
      assert.equal(made.status, 201, made.text);
      const ordersOnly = (
        await server.createKey({ name: 'oo', environment: 'test', scopes: ['orders:read'] })
      ).key;
      const doc = (await server.request('GET', '/api/v1/openapi.json', { key: ordersOnly })).body;
      await SwaggerParser.validate(structuredClone(doc));
      assert.ok(doc.paths['/api/v1/apps/portal/open'].get, 'public: anyone may call it');
      assert.equal(doc.paths['/api/v1/apps/portal/closed'], undefined, 'needs apps:portal');
      assert.equal(doc.paths['/api/v1/data/line-items'], undefined);
      const names = Object.keys(doc.components.schemas);
      assert.ok(
        names.some((n) => n.startsWith('Orders')),
        names.join(),
      );
      assert.ok(names.includes('Error'), names.join());
      assert.equal(names.filter((n) => n.startsWith('LineItems')).length, 0, names.join());
      const everything = (await server.request('GET', '/api/v1/openapi.json', { key: testKey })).body;
      assert.ok(Object.keys(everything.components.schemas).some((n) => n.startsWith('LineItems')));

      const portal = (await server.createKey({ name: 'pp', environment: 'test', scopes: ['apps:portal'] }))
        .key;
      const portalDoc = (await server.request('GET', '/api/v1/openapi.json', { key: portal })).body;
      await SwaggerParser.validate(structuredClone(portalDoc));
      assert.ok(portalDoc.paths['/api/v1/apps/portal/closed'].get);
      assert.ok(portalDoc.paths['/api/v1/apps/portal/open'].get);
      assert.equal(portalDoc.paths['/api/v1/data/orders'], undefined);
      assert.equal((await server.admin('DELETE', '/admin/v1/apps/portal')).status, 200);
    });

    test('the data API document is valid OpenAPI 3.1 with one typed path per endpoint of the environment', async () => {
      const res = await server.request('GET', '/api/v1/openapi.json', { key: testKey });
      assert.equal(res.status, 200);
      const doc = res.body;
      await SwaggerParser.validate(structuredClone(doc));
      assert.equal(doc.openapi, '3.1.0');
      assert.ok(doc.paths['/api/v1/data/orders'].post);
      assert.ok(doc.paths['/api/v1/data/line-items/{record_id}'].put);
      assert.deepEqual(doc.components.schemas.OrdersData.required, ['order_id', 'amount']);
      const post = doc.paths['/api/v1/data/orders'].post;
      for (const status of ['202', '400', '401', '403', '404', '409', '413', '415', '422', '429'])
        assert.ok(post.responses[status], status);
      assert.ok(post.responses['429'].headers['Retry-After']);
      assert.ok(post.responses['202'].headers['X-RateLimit-Remaining']);
      // An idempotent request in flight: retry after Retry-After. A 401 knows no key, so no limits;
      // it names the scheme to authenticate with (WWW-Authenticate).
      assert.ok(post.responses['409'].headers['Retry-After']);
      assert.deepEqual(Object.keys(post.responses['401'].headers), ['Request-Id', 'WWW-Authenticate']);
      assert.deepEqual(Object.keys(doc.components.securitySchemes).sort(), ['apiKey', 'bearer']);
      // Bearer takes a key or a token minted from one (which JWT-only App routes require).
      assert.match(
        doc.components.securitySchemes.bearer.description,
        /gk_live_… \(an API key\), or a short-lived token minted from one with POST \/api\/v1\/tokens/,
      );
      assert.deepEqual(Object.keys(doc.webhooks).sort(), [
        'record.created',
        'record.deleted',
        'record.updated',
        'request.failed',
      ]);
      // What a receiver checks: webhook-timestamp is said to be Unix seconds, and digits only.
      const stamp = doc.webhooks['record.created'].post.parameters.find(
        (p: { name: string }) => p.name === 'webhook-timestamp',
      );
      assert.match(stamp.description, /^Unix seconds of this attempt/);
      assert.equal(stamp.schema.pattern, '^[0-9]+$');
      const mint = doc.paths['/api/v1/tokens'].post;
      assert.equal(mint.requestBody.content['application/json'].schema.properties.expires_in.maximum, 3600);
      assert.ok(mint.responses['201']);
      const names = post.parameters.map((p: { $ref: string }) => p.$ref.split('/').pop());
      assert.deepEqual(names, ['IdempotencyKey', 'WebhookCallback', 'WebhookAuth', 'WebhookAuthHeader']);
      // DELETE never reads a body (no 415), but refuses one over max_body_bytes (413); replays are described.
      const del = doc.paths['/api/v1/data/orders/{record_id}'].delete;
      for (const status of ['400', '413']) assert.ok(del.responses[status], `DELETE ${status}`);
      assert.equal(del.responses['415'], undefined, 'a DELETE body is never read: no 415');
      assert.match(del.description, /Takes no body/, 'the DELETE says what a body does');
      // A write on a full disk is 507 storage_full (docs/errors.md), and a generated client is told.
      for (const op of [post, doc.paths['/api/v1/data/orders/{record_id}'].put, del])
        assert.match(op.responses['507']?.description ?? '', /Codes: storage_full$/);
      // A record id that is not valid percent-encoding is a 400, documented on GET too.
      const malformed = await server.request('GET', '/api/v1/data/orders/%ff', { key: testKey });
      assert.equal(malformed.status, 400);
      assert.equal(malformed.body.code, 'invalid_request');
      assert.ok(doc.paths['/api/v1/data/orders/{record_id}'].get.responses['400']);
      assert.ok(post.responses['202'].headers['Idempotent-Replayed']);
      assert.ok(post.responses['202'].headers['Original-Request-Id']);
      assert.ok(mint.responses['201'].headers['Request-Id']);
      assert.deepEqual(doc.paths['/health'].get.security, []);
      assert.ok(doc.paths['/api/v1/openapi.json'].get.responses['200']);
      // The answers of /api/v1/account and /health are what the document says.
      const addFormats = (await import('ajv-formats')).default as unknown as (ajv: object) => void;
      const ajv = new Ajv2020({ strict: false });
      addFormats(ajv);
      const account = await server.request('GET', '/api/v1/account', { key: testKey });
      const accountSchema =
        doc.paths['/api/v1/account'].get.responses['200'].content['application/json'].schema;
      assert.ok(ajv.validate(accountSchema, account.body), JSON.stringify(ajv.errors));
      // The key's callback signing secret is in the answer and in the document.
      const { data } = account.body as { data: { callback_signing_secret: string } };
      assert.match(data.callback_signing_secret, /^whsec_/);
      assert.ok(accountSchema.properties.data.required.includes('callback_signing_secret'));
      // It changes when the owner rotates it: the document must not promise it for the key's life.
      const secretDoc = accountSchema.properties.data.properties.callback_signing_secret
        .description as string;
      assert.doesNotMatch(secretDoc, /whole life/);
      assert.match(secretDoc, /rotate-callback-secret/);
      assert.ok(
        ajv.validate(accountSchema, { success: true, data: {} }) === false,
        'the schema says what data holds',
      );
      const health = await server.request('GET', '/health');
      assert.ok(
        ajv.validate(
          doc.paths['/health'].get.responses['200'].content['application/json'].schema,
          health.body,
        ),
      );
    });

    test('minting a token documents the 413 and 415 it answers to a body that is too large or not JSON', async () => {
      const doc = (await server.request('GET', '/api/v1/openapi.json', { key: testKey })).body;
      const mint = doc.paths['/api/v1/tokens'].post.responses;
      const notJson = await server.request('POST', '/api/v1/tokens', {
        key: testKey,
        raw: 'expires_in=60',
        headers: { 'content-type': 'text/plain' },
      });
      assert.equal(notJson.status, 415, notJson.text);
      assert.ok(mint['415'], 'POST /api/v1/tokens documents 415');
      const tooLarge = await server.request('POST', '/api/v1/tokens', {
        key: testKey,
        raw: `{"expires_in":60${' '.repeat(MAX_REQUEST_BYTES)}}`,
        headers: { 'content-type': 'application/json' },
      });
      assert.equal(tooLarge.status, 413, tooLarge.text);
      assert.ok(mint['413'], 'POST /api/v1/tokens documents 413');
    });

    test('live keys see only deployed endpoints, with the deployed schema; draft changes show for test at once', async () => {
      await server.admin('PATCH', '/admin/v1/endpoints/orders', {
        schema: { type: 'object', properties: { renamed: { type: 'string' } } },
      });
      const live = (await server.request('GET', '/api/v1/openapi.json', { key: liveKey })).body;
      await SwaggerParser.validate(structuredClone(live));
      assert.ok(live.paths['/api/v1/data/orders']);
      assert.equal(live.paths['/api/v1/data/line-items'], undefined);
      assert.ok(live.components.schemas.OrdersData.properties.order_id);
      const test = (await server.request('GET', '/api/v1/openapi.json', { key: testKey })).body;
      assert.ok(test.components.schemas.OrdersData.properties.renamed);
      assert.equal((await server.request('GET', '/api/v1/openapi.json')).status, 401);
    });

    test('a renamed draft endpoint or app keeps its deployed name in the live document until deployed', async () => {
      await server.createEndpoint({ slug: 'renames', name: 'Renames', schema: { type: 'object' } });
      const app = await server.admin('POST', '/admin/v1/apps', {
        slug: 'renamer',
        name: 'Renamer',
        routes: [{ method: 'GET', path: '/ping', auth: 'public', steps: [{ name: 'r', type: 'respond' }] }],
      });
      assert.equal(app.status, 201, app.text);
      for (const path of ['/admin/v1/endpoints/renames', '/admin/v1/apps/renamer'])
        assert.equal((await server.admin('POST', `${path}/deploy`)).status, 201);
      assert.equal(
        (await server.admin('PATCH', '/admin/v1/endpoints/renames', { name: 'Draft name' })).status,
        200,
      );
      assert.equal(
        (await server.admin('PATCH', '/admin/v1/apps/renamer', { name: 'Draft app' })).status,
        200,
      );
      // Every tag and summary of the endpoint's paths and the app's route, in one text.
      const names = async (key: string) => {
        const doc = (await server.request('GET', '/api/v1/openapi.json', { key })).body;
        const paths = [
          '/api/v1/data/renames',
          '/api/v1/data/renames/{record_id}',
          '/api/v1/apps/renamer/ping',
        ];
        return JSON.stringify(
          paths.flatMap((path) =>
            Object.values(doc.paths[path] as Record<string, { tags: string[]; summary: string }>).map(
              (op) => [op.tags, op.summary],
            ),
          ),
        );
      };
      const live = await names(liveKey);
      assert.match(live, /Create a record in Renames/);
      assert.match(live, /App: Renamer/);
      assert.doesNotMatch(live, /Draft/);
      const test = await names(testKey);
      assert.match(test, /Create a record in Draft name/);
      assert.match(test, /App: Draft app/);
      for (const path of ['/admin/v1/endpoints/renames', '/admin/v1/apps/renamer'])
        await server.admin('POST', `${path}/deploy`);
      assert.equal(await names(liveKey), test);
    });

    test('slugs that read alike get names of their own, and a schema with $defs stays valid', async () => {
      await server.createEndpoint({
        slug: 'v2',
        name: 'V2',
        schema: { type: 'object', required: ['alpha'], properties: { alpha: { type: 'string' } } },
      });
      await server.createEndpoint({
        slug: 'v-2',
        name: 'V-2',
        schema: { type: 'object', required: ['beta'], properties: { beta: { type: 'integer' } } },
      });
      await server.createEndpoint({
        slug: 'points',
        name: 'Points',
        schema: {
          type: 'object',
          required: ['at'],
          properties: {
            at: { $ref: '#/$defs/point' },
            route: { type: 'array', items: { $ref: '#/$defs/point' } },
          },
          $defs: { point: { type: 'object', required: ['x'], properties: { x: { type: 'number' } } } },
        },
      });
      // The schema is what the data API enforces: a point without x is refused.
      const refused = await server.request('POST', '/api/v1/data/points', { key: testKey, json: { at: {} } });
      assert.equal(refused.status, 400);
      const doc = (await server.request('GET', '/api/v1/openapi.json', { key: testKey })).body;
      await SwaggerParser.validate(structuredClone(doc));
      const ids = Object.values(doc.paths).flatMap((item) =>
        Object.values(item as Record<string, { operationId: string }>).map((op) => op.operationId),
      );
      assert.equal(new Set(ids).size, ids.length, `operationIds repeat: ${ids.join(', ')}`);
      const resolved = (await SwaggerParser.dereference(structuredClone(doc))) as typeof doc;
      const body = (path: string) => resolved.paths[path].post.requestBody.content['application/json'].schema;
      assert.deepEqual(body('/api/v1/data/v2').required, ['alpha']);
      assert.deepEqual(body('/api/v1/data/v-2').required, ['beta'], "v-2 documented with v2's schema");
      assert.deepEqual(body('/api/v1/data/points').properties.at.required, ['x']);
      assert.deepEqual(body('/api/v1/data/points').properties.route.items.required, ['x']);
      for (const slug of ['v2', 'v-2', 'points']) await server.admin('DELETE', `/admin/v1/endpoints/${slug}`);
    });

    test('the management document gives each create its real status, and 413/415 where a body is read', async () => {
      const doc = (await server.admin('GET', '/admin/v1/openapi.json')).body;
      const created = await server.admin('POST', '/admin/v1/apps', {
        slug: 'docs-status',
        name: 'Docs status',
        routes: [{ method: 'GET', path: '/a', steps: [{ name: 'out', type: 'respond', body: '1' }] }],
      });
      assert.equal(created.status, 201);
      assert.ok(doc.paths['/admin/v1/apps'].post.responses['201'], 'POST /admin/v1/apps answers 201');
      assert.equal(doc.paths['/admin/v1/apps'].post.responses['200'], undefined);
      const record = await server.admin('POST', '/admin/v1/console/orders/records', {
        order_id: 'DOC-1',
        amount: 1,
      });
      assert.equal(record.status, 201, record.text);
      assert.ok(doc.paths['/admin/v1/console/{slug}/records'].post.responses['201']);
      const wrongType = await server.request('POST', '/admin/v1/keys', {
        token: server.token,
        raw: 'name=x',
        headers: { 'content-type': 'text/plain' },
      });
      assert.equal(wrongType.status, 415);
      // A DELETE never reads its body: as documented, no 415, only 413 over the limit.
      const deleteWithText = await server.request('DELETE', '/admin/v1/tokens/tok_missing', {
        token: server.token,
        raw: 'x',
        headers: { 'content-type': 'text/plain' },
      });
      assert.equal(deleteWithText.status, 404, deleteWithText.text);
      for (const [path, item] of Object.entries(
        doc.paths as Record<string, Record<string, { responses: object }>>,
      )) {
        for (const [method, op] of Object.entries(item)) {
          if (['post', 'patch', 'put'].includes(method))
            assert.ok('415' in op.responses && '413' in op.responses, `${method} ${path}`);
          if (method === 'delete')
            assert.ok('413' in op.responses && !('415' in op.responses), `${method} ${path}`);
        }
      }
      await server.admin('DELETE', '/admin/v1/apps/docs-status');
    });

    test('the keys list documents its meta.default_limits, and the answer matches the document', async () => {
      const doc = (await server.admin('GET', '/admin/v1/openapi.json')).body;
      const schema = doc.paths['/admin/v1/keys'].get.responses['200'].content['application/json'].schema;
      assert.deepEqual(schema.required, ['success', 'data', 'meta']);
      const listed = await server.admin('GET', '/admin/v1/keys');
      assert.deepEqual(listed.body.meta, {
        default_limits: { per_minute: null, per_day: null, per_month: null },
      });
      // Over the whole document, where its $refs (#/components/schemas/Key) resolve.
      const ajv = new Ajv2020({ strict: false });
      ajv.addSchema({ ...doc, $id: 'https://doc.invalid/admin.json' });
      const validate = ajv.compile({
        $ref: 'https://doc.invalid/admin.json#/paths/~1admin~1v1~1keys/get/responses/200/content/application~1json/schema',
      });
      assert.ok(validate(listed.body), JSON.stringify(validate.errors));
    });

    test('every management success says what its data holds: named shapes, typed fields, listed items', async () => {
      type Schema = {
        $ref?: string;
        type?: unknown;
        items?: Schema;
        properties?: Record<string, Schema>;
        required?: string[];
        description?: string;
      };
      type Operation = { responses: Record<string, { content?: Record<string, { schema?: Schema }> }> };
      const doc = (await server.admin('GET', '/admin/v1/openapi.json')).body as {
        paths: Record<string, Record<string, Operation>>;
        components: { schemas: Record<string, Schema> };
      };
      const { schemas } = doc.components;
      const resolve = (schema: Schema | undefined) =>
        schema?.$ref ? schemas[schema.$ref.replace('#/components/schemas/', '')] : schema;
      const vague: string[] = [];
      for (const [path, item] of Object.entries(doc.paths))
        for (const [method, op] of Object.entries(item)) {
          const success = Object.entries(op.responses).find(([status]) => status < '400')?.[1];
          const envelope = success?.content?.['application/json']?.schema;
          // The document itself and the NDJSON export are no envelope.
          if (!envelope?.properties?.data) continue;
          const data = resolve(envelope.properties.data);
          const shape = data?.type === 'array' ? resolve(data.items) : data;
          if (Object.keys(shape?.properties ?? {}).length === 0)
            vague.push(`${method.toUpperCase()} ${path}: data (or its items) lists no fields`);
        }
      assert.deepEqual(vague, []);
      // Each reusable shape lists its fields, and those always sent as required.
      for (const name of [
        'Endpoint',
        'Key',
        'Subscription',
        'Delivery',
        'Attempt',
        'User',
        'Token',
        'AuditEntry',
      ])
        assert.ok(schemas[name]?.properties && (schemas[name]?.required ?? []).length > 0, name);
      // Secrets shown once say so.
      for (const [name, field] of [
        ['NewKey', 'key'],
        ['RolledKey', 'key'],
        ['NewToken', 'token'],
        ['NewSubscription', 'secret'],
      ] as const)
        assert.match(
          schemas[name]?.properties?.[field]?.description ?? '',
          /in this answer only/,
          `${name}.${field}`,
        );
    });

    test('the management document lists every management route and validates', async () => {
      const res = await server.admin('GET', '/admin/v1/openapi.json');
      assert.equal(res.status, 200);
      await SwaggerParser.validate(structuredClone(res.body));
      const paths = res.body.paths;
      // The export streams NDJSON, and the document says so.
      const exportDoc = paths['/admin/v1/endpoints/{slug}/export'].get.responses['200'].content;
      assert.deepEqual(Object.keys(exportDoc), ['application/x-ndjson']);
      const exported = await fetch(`${server.url}/admin/v1/endpoints/orders/export`, {
        headers: { authorization: `Bearer ${server.token}` },
      });
      assert.equal(exported.status, 200);
      assert.match(String(exported.headers.get('content-type')), /^application\/x-ndjson/);
      await exported.text();
      for (const [path, method] of [
        ['/admin/v1/endpoints', 'post'],
        ['/admin/v1/endpoints/{slug}/deploy', 'post'],
        ['/admin/v1/keys/{id}/roll', 'post'],
        ['/admin/v1/keys/{id}/callback-signing-secret', 'get'],
        ['/admin/v1/deliveries/{id}/redeliver', 'post'],
        ['/admin/v1/usage', 'get'],
      ] as const) {
        assert.ok(paths[path]?.[method], `${method} ${path}`);
      }
      // A key's callback signing secret: owner only, and its answer is what the document says.
      const perKey = paths['/admin/v1/keys/{id}/callback-signing-secret'].get;
      assert.equal(perKey.description, 'Owner only.');
      assert.match(perKey.summary, /callbacks of this key's requests/);
      assert.match(paths['/admin/v1/webhook-signing-secret'].get.summary, /root .*not for partners/);
      const listed = await server.admin('GET', '/admin/v1/keys');
      const keyId = listed.body.data[0].id;
      const secret = await server.admin('GET', `/admin/v1/keys/${keyId}/callback-signing-secret`);
      assert.equal(secret.status, 200, secret.text);
      const ajv = new Ajv2020({ strict: false });
      // The answer's shape is a named one in components.schemas: resolved, as a client would.
      const resolved = (await SwaggerParser.dereference(structuredClone(res.body))) as typeof res.body;
      const schema =
        resolved.paths['/admin/v1/keys/{id}/callback-signing-secret'].get.responses['200'].content[
          'application/json'
        ].schema;
      assert.ok(ajv.validate(schema, secret.body), JSON.stringify(ajv.errors));
      assert.equal(
        ajv.validate(schema, { success: true, data: {} }),
        false,
        'the schema says what data holds',
      );
      assert.equal((await server.request('GET', '/admin/v1/openapi.json')).status, 401);
      // This document is served as it is, not in the envelope; public routes need no credentials;
      // sign-in says it can answer 429; a create needs its body, an action does not.
      const self = paths['/admin/v1/openapi.json'].get.responses['200'].content['application/json'].schema;
      assert.equal(self.properties, undefined);
      assert.equal(res.body.success, undefined);
      for (const [path, method] of [
        ['/admin/v1/session', 'post'],
        ['/admin/v1/setup', 'get'],
        ['/admin/v1/invites/lookup', 'get'],
        ['/admin/v1/invites/accept', 'post'],
      ] as const) {
        assert.deepEqual(paths[path][method].security, [], `${method} ${path}`);
      }
      assert.equal(paths['/admin/v1/keys'].post.security, undefined);
      assert.ok(paths['/admin/v1/session'].post.responses['429']);
      assert.deepEqual(Object.keys(res.body.components.securitySchemes).sort(), [
        'managementToken',
        'sessionCookie',
      ]);
      assert.equal(paths['/admin/v1/endpoints'].post.requestBody.required, true);
      assert.equal(paths['/admin/v1/endpoints/{slug}'].patch.requestBody.required, true);
      assert.equal(paths['/admin/v1/keys/{id}/revoke'].post.requestBody.required, false);
      const noBody = await server.request('POST', '/admin/v1/endpoints', {
        token: server.token,
        headers: { 'content-type': 'application/json' },
      });
      assert.equal(noBody.status, 400);
    });

    test("/docs without JavaScript: a name holding $& or $' is listed as written", async () => {
      // String.replace reads $&, $` and $' in a replacement string as parts of the page.
      await server.createEndpoint({ slug: 'dollars', name: "Cost $& $` $' total", schema: {} });
      try {
        const html = await (await fetch(`${server.url}/docs/`)).text();
        const fallback = /<noscript>([\s\S]*)<\/noscript>/.exec(html)?.[1] ?? '';
        assert.match(fallback, /List Cost \$&amp; \$` \$' total/);
        assert.doesNotMatch(fallback, /<script|<div id="app">/);
      } finally {
        assert.equal((await server.admin('DELETE', '/admin/v1/endpoints/dollars')).status, 200);
      }
    });

    test('/docs serves the interactive reference over the public sandbox document', async () => {
      // An owner's endpoint name is text, not markup, on the page too.
      await server.createEndpoint({ slug: 'markup', name: 'Evil <img src=x onerror=alert(1)>', schema: {} });
      const page = await fetch(`${server.url}/docs/`);
      assert.equal(page.status, 200);
      const html = await page.text();
      assert.match(html, /createApiReference/);
      assert.match(html, /\/docs\/openapi\.json/);
      // Without JavaScript: the operations in a <noscript>, names escaped, the page titled.
      assert.match(html, /<title>Gatehouse API reference<\/title>/);
      const fallback = /<noscript>([\s\S]*)<\/noscript>/.exec(html)?.[1] ?? '';
      assert.match(fallback, /<code>POST \/api\/v1\/data\/orders<\/code>/);
      assert.match(fallback, /<code>GET \/api\/v1\/account<\/code>/);
      assert.doesNotMatch(fallback, /<script|<img/);
      assert.match(fallback, /List Evil &lt;img src=x onerror=alert\(1\)&gt;/);
      assert.equal((await server.admin('DELETE', '/admin/v1/endpoints/markup')).status, 200);
      const script = await fetch(`${server.url}/docs/js/scalar.js`);
      assert.equal(script.status, 200);
      const spec = await fetch(`${server.url}/docs/openapi.json`);
      assert.equal(spec.status, 200);
      // Built from the caller's Host: a shared cache must not serve it to callers of another host.
      assert.equal(spec.headers.get('cache-control'), 'no-store');
      const doc = (await spec.json()) as { servers: Array<{ url: string }>; info: { title: string } };
      assert.match(doc.info.title, /test/);
      // Only the address the caller used (a fixed localhost:4000 was wrong on any other port).
      assert.deepEqual(
        doc.servers.map((s) => s.url),
        [server.url],
      );
    });

    test('the documents cached per Host stay few, however many hosts callers make up', async () => {
      // The public document is built for the caller's Host: made-up hosts must not pile up.
      for (let n = 0; n < 40; n++) {
        // fetch() will not send another Host: node:http does.
        const body = await new Promise<string>((resolve, reject) => {
          const req = get(
            `${server.url}/docs/openapi.json`,
            { headers: { host: `h${n}.example` } },
            (res) => {
              assert.equal(res.statusCode, 200);
              let text = '';
              res.setEncoding('utf8');
              res.on('data', (chunk: string) => {
                text += chunk;
              });
              res.on('end', () => resolve(text));
            },
          );
          req.on('error', reject);
        });
        const doc = JSON.parse(body) as { servers: Array<{ url: string }> };
        assert.equal(doc.servers[0]?.url, `http://h${n}.example`);
      }
      const { endpoints, bus, apps } = server.services;
      const document = openApiCache(endpoints, bus, apps);
      const first = await document('test', 'http://a.example');
      const others: Array<Record<string, unknown>> = [];
      for (let n = 0; n < OPENAPI_CACHE_SIZE - 1; n++)
        others.push(await document('test', `http://h${n}.example`));
      assert.equal(document.size(), OPENAPI_CACHE_SIZE);
      // The oldest entry, used again, becomes the most recent: the next newcomer evicts h0 instead.
      assert.equal(await document('test', 'http://a.example'), first);
      await document('test', 'http://newcomer.example');
      assert.equal(document.size(), OPENAPI_CACHE_SIZE);
      assert.equal(await document('test', 'http://a.example'), first, 'a document in use stays');
      assert.equal(await document('test', 'http://h1.example'), others[1], 'h1 stays');
      assert.notEqual(await document('test', 'http://h0.example'), others[0], 'the least recently used went');
      for (let n = 0; n < OPENAPI_CACHE_SIZE * 3; n++) await document('test', `http://many${n}.example`);
      assert.equal(document.size(), OPENAPI_CACHE_SIZE);
    });
  });
}
