import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { errorCodes } from '../src/errors.ts';
import { ordersSchema, startTestServer, type TestServer } from './helpers/server.ts';

type Json = Record<string, unknown>;
type Operation = { responses: Record<string, { description?: string }> };

/** Codes only the management API answers with: none belongs in the data API's document. */
const MANAGEMENT_ONLY = [
  'invalid_schema',
  'invalid_app',
  'unauthorized',
  'invalid_credentials',
  'forbidden',
  'csrf_failed',
  'invite_not_found',
  'key_not_found',
  'conflict',
  'already_initialized',
];

/** Codes only the data API answers with (API keys, limits, idempotency, App steps). */
const DATA_ONLY = [
  'missing_api_key',
  'invalid_api_key',
  'api_key_expired',
  'api_key_revoked',
  'api_key_inactive',
  'insufficient_scope',
  'idempotency_key_in_flight',
  'idempotency_key_reused',
  'rate_limited',
  'quota_exceeded',
  'app_step_failed',
  'app_budget_exceeded',
  'limits_unavailable',
];

/** The codes a response's description lists (`… Codes: a, b`). */
function codesOf(operation: Operation, status: number): string[] {
  const description = operation.responses[String(status)]?.description ?? '';
  const listed = /Codes: (.*)$/.exec(description)?.[1];
  assert.ok(listed !== undefined, `a ${status} response lists its codes: ${description}`);
  return listed.split(', ').filter(Boolean);
}

function operations(doc: Json): Array<[string, Operation]> {
  return Object.entries(doc.paths as Record<string, Record<string, Operation>>).flatMap(([path, item]) =>
    Object.entries(item).map(([method, op]): [string, Operation] => [`${method.toUpperCase()} ${path}`, op]),
  );
}

/** Every `status → codes` an OpenAPI document lists, over all its operations. */
function listedCodes(doc: Json): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const [, op] of operations(doc)) {
    for (const status of Object.keys(op.responses)) {
      if (!/^[45]\d\d$/.test(status)) continue;
      const set = out.get(status) ?? new Set<string>();
      for (const code of codesOf(op, Number(status))) set.add(code);
      out.set(status, set);
    }
  }
  return out;
}

/** The codes a document's `Error` schema takes. */
function errorEnum(doc: Json): string[] {
  const schemas = (doc.components as Json).schemas as Record<string, { properties: Json }>;
  const error = schemas.Error;
  assert.ok(error, 'the document has an Error schema');
  return (error.properties.code as { enum: string[] }).enum;
}

describe('each OpenAPI document lists only the error codes its own API answers with', () => {
  let server: TestServer;
  let key: string;
  let dataDoc: Json;
  let adminDoc: Json;

  before(async () => {
    server = await startTestServer('sqlite');
    await server.createEndpoint({ slug: 'orders', name: 'Orders', schema: ordersSchema });
    key = (await server.createKey({ name: 't', environment: 'test' })).key;
    dataDoc = (await server.request('GET', '/api/v1/openapi.json', { key })).body;
    adminDoc = (await server.admin('GET', '/admin/v1/openapi.json')).body;
  });
  after(() => server.close());

  test("the data document's 400s are the data API's, without the management API's", () => {
    const post = (dataDoc.paths as Record<string, Record<string, Operation>>)['/api/v1/data/orders']?.post;
    assert.ok(post, 'the document has POST /api/v1/data/orders');
    const codes = codesOf(post, 400);
    for (const code of ['invalid_json', 'invalid_body', 'validation_failed', 'invalid_request'])
      assert.ok(codes.includes(code), `data 400 lists ${code}: ${codes.join(', ')}`);
    for (const code of ['invalid_schema', 'invalid_app'])
      assert.ok(!codes.includes(code), `data 400 does not list ${code}: ${codes.join(', ')}`);
  });

  test('no status of the data document, nor its Error schema, lists a management-only code', () => {
    for (const [status, codes] of listedCodes(dataDoc)) {
      for (const code of MANAGEMENT_ONLY)
        assert.ok(!codes.has(code), `data ${status} does not list ${code}: ${[...codes].join(', ')}`);
    }
    const enumCodes = errorEnum(dataDoc);
    for (const code of MANAGEMENT_ONLY)
      assert.ok(!enumCodes.includes(code), `data Error.code does not take ${code}`);
    assert.ok(enumCodes.includes('rate_limited'), 'data Error.code takes rate_limited');
  });

  test('no status of the management document, nor its Error schema, lists a data-only code', () => {
    const listed = listedCodes(adminDoc);
    for (const [status, codes] of listed) {
      for (const code of DATA_ONLY)
        assert.ok(!codes.has(code), `management ${status} does not list ${code}: ${[...codes].join(', ')}`);
    }
    assert.ok(listed.get('400')?.has('invalid_schema'), 'management 400 lists invalid_schema');
    assert.ok(listed.get('409')?.has('conflict'), 'management 409 lists conflict');
    // An import into a deactivated endpoint is refused as the data API refuses a write there.
    assert.ok(listed.get('403')?.has('endpoint_inactive'), 'management 403 lists endpoint_inactive');
    assert.ok(listed.get('403')?.has('subscription_expired'), 'management 403 lists subscription_expired');
    assert.ok(listed.get('401')?.has('unauthorized'), 'management 401 lists unauthorized');
    const enumCodes = errorEnum(adminDoc);
    for (const code of DATA_ONLY)
      assert.ok(!enumCodes.includes(code), `management Error.code does not take ${code}`);
    assert.ok(enumCodes.includes('csrf_failed'), 'management Error.code takes csrf_failed');
  });

  test('a code each API really answers with is listed for that operation and status', async () => {
    const adminPaths = adminDoc.paths as Record<string, Record<string, Operation>>;
    const dataPaths = dataDoc.paths as Record<string, Record<string, Operation>>;
    const cases: Array<{ got: { status: number; body: { code: string } }; op: Operation | undefined }> = [
      {
        got: await server.admin('POST', '/admin/v1/endpoints', {
          slug: 'bad',
          name: 'Bad',
          schema: { type: 'nonsense' },
        }),
        op: adminPaths['/admin/v1/endpoints']?.post,
      },
      {
        got: await server.request('GET', '/admin/v1/endpoints'),
        op: adminPaths['/admin/v1/endpoints']?.get,
      },
      {
        got: await server.request('POST', '/api/v1/data/orders', {
          key,
          raw: '{"oops"',
          headers: { 'content-type': 'application/json' },
        }),
        op: dataPaths['/api/v1/data/orders']?.post,
      },
      { got: await server.request('GET', '/api/v1/data/orders'), op: dataPaths['/api/v1/data/orders']?.get },
    ];
    const seen = cases.map(({ got }) => got.body.code);
    assert.deepEqual(seen, ['invalid_schema', 'unauthorized', 'invalid_json', 'missing_api_key']);
    for (const { got, op } of cases) {
      assert.ok(op, `the operation answering ${got.body.code} is documented`);
      assert.ok(codesOf(op, got.status).includes(got.body.code), `${got.status} lists ${got.body.code}`);
    }
  });

  test('every code but 405 is listed by at least one document', () => {
    const all = new Set<string>();
    for (const doc of [dataDoc, adminDoc])
      for (const codes of listedCodes(doc).values()) for (const code of codes) all.add(code);
    const missing = Object.keys(errorCodes).filter((code) => code !== 'method_not_allowed' && !all.has(code));
    assert.deepEqual(missing, [], 'no code is left out of both documents');
  });
});
