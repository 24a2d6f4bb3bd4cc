import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { MAX_REQUEST_BYTES } from '../src/http/json-body.ts';
import { databaseKinds } from './helpers/database.ts';
import { type Received, type Receiver, startReceiver } from './helpers/receiver.ts';
import { type ApiResponse, ordersSchema, startTestServer, type TestServer } from './helpers/server.ts';
import { awayFromMinuteEdge, until } from './helpers/until.ts';

/**
 * The contract: every operation the management and data documents list is called for real, with
 * a success and the errors that are cheap to provoke, and each answer is checked against the
 * document: its status is one the operation declares, its body validates (Ajv, over the whole
 * document, so its $refs resolve) against the schema declared for that status and content type,
 * and the headers it declares as required are there. An operation nobody calls fails the test
 * ("no call for operation …") unless it is in SKIPPED with the reason.
 */

type Json = Record<string, unknown>;
type Operation = { responses: Record<string, Json>; security?: unknown[]; operationId?: string };
type Webhook = { post: { parameters?: Array<{ name: string; in: string; required?: boolean }> } };

const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => void;

/** Operations deliberately not called, each with why. */
const SKIPPED: Record<string, string> = {};

/**
 * Headers sent whenever they are declared: Retry-After (on 409, 429 and 503) and, on an answer to
 * a request with credentials, the limit headers (the server runs with installation default limits,
 * so every key has a window). Request-Id is checked on every answer.
 */
const ALWAYS = ['Retry-After'];
const LIMIT_HEADERS = [
  'X-RateLimit-Limit',
  'X-RateLimit-Remaining',
  'X-RateLimit-Reset',
  'RateLimit-Policy',
  'RateLimit',
];

/** A body over the request size limit (413 wherever a body is read). */
const tooLarge = `{"a":"${'x'.repeat(MAX_REQUEST_BYTES)}"}`;

/**
 * One request written as it is on a new connection, and the answer read until the server closes
 * it: for what the HTTP server refuses before any route runs (no Host, an unknown Expect, headers
 * over 16 KiB), which fetch() will not send.
 */
async function exchange(url: string, request: string): Promise<ApiResponse> {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  socket.end(request);
  const chunks: Buffer[] = [];
  for await (const chunk of socket) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  const split = text.indexOf('\r\n\r\n');
  const [statusLine = '', ...lines] = text.slice(0, split).split('\r\n');
  const headers = new Headers();
  for (const line of lines) {
    const colon = line.indexOf(':');
    headers.append(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
  }
  const body = text.slice(split + 4);
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    parsed = undefined;
  }
  return { status: Number(statusLine.split(' ')[1]), headers, body: parsed, text: body };
}

/**
 * The document with every schema that lists `properties` closed to any other field
 * (`additionalProperties: false`), but those that say what other fields may be: a success body
 * validated against it shows the fields the server sends and the document does not list.
 */
function closed(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(closed);
  if (typeof node !== 'object' || node === null) return node;
  const out: Json = Object.fromEntries(Object.entries(node).map(([k, v]) => [k, closed(v)]));
  if (typeof out.properties === 'object' && !('additionalProperties' in out))
    out.additionalProperties = false;
  return out;
}

/** JSON pointer segment, URI-escaped for a $ref. */
const segment = (s: string) => encodeURIComponent(s.replace(/~/g, '~0').replace(/\//g, '~1'));

interface CallOptions {
  /** Values for the path template's {params}. */
  params?: Record<string, string>;
  query?: string;
  key?: string;
  token?: string;
  json?: unknown;
  raw?: string | Buffer;
  headers?: Record<string, string>;
  /** The status this call is made to provoke (a different one is reported too). */
  expect: number;
  /** No credentials at all (the server's token is sent otherwise on the management API). */
  anonymous?: boolean;
}

class Contract {
  readonly problems: string[] = [];
  readonly called = new Map<string, Set<number>>();
  /** The webhook event types delivered and checked. */
  readonly delivered = new Set<string>();
  private readonly ajv = new Ajv2020({ strict: false, allErrors: true });
  private readonly validators = new Map<string, ValidateFunction>();
  private readonly id: string;
  /** With `listsEveryField`: the closed document, for success bodies. */
  private readonly closedAjv?: Ajv2020;

  constructor(
    readonly name: string,
    readonly doc: {
      paths: Record<string, Record<string, Operation>>;
      webhooks?: Record<string, Webhook>;
      components: Json;
    },
    private readonly server: TestServer,
    private readonly defaultToken?: string,
    /** Success bodies must hold no field their schema does not list (the management API). */
    listsEveryField = false,
  ) {
    addFormats(this.ajv);
    this.id = `https://contract.invalid/${name.replace(/\W+/g, '-')}.json`;
    this.ajv.addSchema({ ...doc, $id: this.id });
    if (listsEveryField) {
      this.closedAjv = new Ajv2020({ strict: false, allErrors: true });
      addFormats(this.closedAjv);
      this.closedAjv.addSchema({ ...(closed(doc) as Json), $id: this.id });
    }
  }

  operations(): Array<{ label: string; path: string; method: string; op: Operation }> {
    return Object.entries(this.doc.paths).flatMap(([path, item]) =>
      Object.entries(item)
        .filter(([method]) => ['get', 'post', 'put', 'patch', 'delete'].includes(method))
        .map(([method, op]) => ({ label: `${method.toUpperCase()} ${path}`, path, method, op })),
    );
  }

  private header(ref: Json): Json {
    const target = typeof ref.$ref === 'string' ? ref.$ref : undefined;
    if (!target) return ref;
    const name = target.split('/').pop() as string;
    return (this.doc.components.headers as Record<string, Json>)[name] ?? {};
  }

  private validator(pointer: string, ajv = this.ajv): ValidateFunction {
    const cacheKey = `${ajv === this.ajv ? '' : 'closed '}${pointer}`;
    let validate = this.validators.get(cacheKey);
    if (!validate) {
      validate = ajv.compile({ $ref: `${this.id}#${pointer}` });
      this.validators.set(cacheKey, validate);
    }
    return validate;
  }

  async call(method: string, template: string, options: CallOptions): Promise<ApiResponse> {
    const label = `${method} ${template}`;
    const path = template.replace(/\{([A-Za-z_]+)\}/g, (_, name: string) => {
      const value = options.params?.[name];
      if (value === undefined) throw new Error(`${label}: no value for {${name}}`);
      return encodeURIComponent(value);
    });
    const token = options.anonymous || options.key ? undefined : (options.token ?? this.defaultToken);
    const res = await this.server.request(method, `${path}${options.query ? `?${options.query}` : ''}`, {
      key: options.key,
      token,
      json: options.json,
      raw: options.raw,
      headers: options.headers,
      redirect: 'manual',
    });
    const credentials = Boolean(options.key ?? token ?? options.headers?.cookie);
    this.check(label, method.toLowerCase(), template, options.expect, res, credentials);
    return res;
  }

  /** Compares one answer with the document, and notes the operation and status as called. */
  check(
    label: string,
    method: string,
    template: string,
    expected: number,
    res: ApiResponse,
    credentials: boolean,
  ): void {
    const fail = (what: string) => this.problems.push(`${label} → ${res.status}: ${what}`);
    if (res.status !== expected)
      fail(`the call was made to get ${expected} (body: ${res.text.slice(0, 300)})`);
    const op = this.doc.paths[template]?.[method];
    if (!op) {
      fail(`the ${this.name} document has no such operation`);
      return;
    }
    const statuses = this.called.get(label) ?? new Set<number>();
    statuses.add(res.status);
    this.called.set(label, statuses);
    const statusKey = [String(res.status), `${String(res.status)[0]}XX`, 'default'].find(
      (k) => op.responses[k] !== undefined,
    );
    if (!statusKey) {
      fail(`status not declared (declared: ${Object.keys(op.responses).join(', ')}; body: ${res.text})`);
      return;
    }
    const response = op.responses[statusKey] as { headers?: Record<string, Json>; content?: Json };
    if (!res.headers.get('request-id')?.startsWith('req_')) fail('no Request-Id header');
    // Every answer carries one (PRODUCT.md), so every response declares it, as required.
    const requestId = response.headers?.['Request-Id'];
    if (!requestId || this.header(requestId).required !== true)
      fail('the response does not declare the Request-Id header as required');
    const absent = Object.entries(response.headers ?? {})
      .filter(
        ([name, ref]) =>
          this.header(ref).required === true ||
          ALWAYS.includes(name) ||
          (credentials && LIMIT_HEADERS.includes(name)),
      )
      .map(([name]) => name)
      .filter((name) => !res.headers.has(name));
    if (absent.length > 0) fail(`declared headers not sent: ${absent.join(', ')}`);
    const type = (res.headers.get('content-type') ?? '').split(';')[0]?.trim() ?? '';
    const content = response.content ?? {};
    if (res.text === '') {
      if (Object.keys(content).length > 0 && res.status !== 204) fail('declares a body, but none came');
      return;
    }
    const mediaType = type in content ? type : '*/*' in content ? '*/*' : undefined;
    if (!mediaType) {
      fail(`content type ${type} not declared (declared: ${Object.keys(content).join(', ') || 'none'})`);
      return;
    }
    if (mediaType !== 'application/json') return;
    const pointer = `/paths/${segment(template)}/${method}/responses/${statusKey}/content/${segment(mediaType)}/schema`;
    const validate = this.validator(pointer);
    if (!validate(res.body)) {
      fail(
        `body does not match the schema: ${JSON.stringify(validate.errors)}; body: ${res.text.slice(0, 500)}`,
      );
      return;
    }
    if (this.closedAjv && res.status < 400) {
      const listed = this.validator(pointer, this.closedAjv);
      if (!listed(res.body)) {
        const fields = (listed.errors ?? [])
          .filter((e) => e.keyword === 'additionalProperties')
          .map((e) => `${e.instancePath}/${String(e.params.additionalProperty)}`);
        fail(
          `fields sent that the schema does not list: ${[...new Set(fields)].join(', ') || JSON.stringify(listed.errors)}`,
        );
      }
    }
  }

  /**
   * The errors every operation can be made to give cheaply: without credentials a 401 (but on a
   * public one), and for each that reads a body, one not JSON (415) and one over the request size
   * limit (413). `key` is sent with the latter two (the server's token goes otherwise).
   */
  async cheapErrors(key?: string): Promise<void> {
    for (const { path, method, op } of this.operations()) {
      const params = Object.fromEntries(
        [...path.matchAll(/\{([A-Za-z_]+)\}/g)].map((m) => [m[1] as string, 'x_placeholder']),
      );
      const verb = method.toUpperCase();
      if (!(Array.isArray(op.security) && op.security.length === 0))
        await this.call(verb, path, { params, anonymous: true, expect: 401 });
      const body = (raw: string, type: string, expect: number) =>
        this.call(verb, path, { key, params, raw, headers: { 'content-type': type }, expect });
      if (op.responses['415']) await body('x=1', 'text/plain', 415);
      if (op.responses['413']) await body(tooLarge, 'application/json', 413);
      // What any request can get from the HTTP server, before a route or a key is known.
      const target = path.replace(/\{[A-Za-z_]+\}/g, 'x_placeholder');
      const host = new URL(this.server.url).host;
      for (const [status, head] of [
        [400, `${verb} ${target} HTTP/1.1\r\n`],
        [417, `${verb} ${target} HTTP/1.1\r\nHost: ${host}\r\nExpect: a-miracle\r\n`],
        [431, `${verb} ${target} HTTP/1.1\r\nHost: ${host}\r\nX-Big: ${'x'.repeat(17 * 1024)}\r\n`],
      ] as const) {
        const res = await exchange(this.server.url, `${head}Connection: close\r\n\r\n`);
        this.check(`${verb} ${path}`, method, path, status, res, false);
      }
    }
  }

  /** A delivery (subscription or callback) against the document's `webhooks` entry for its type. */
  checkDelivery(received: Received): void {
    const body = JSON.parse(received.body) as { type: string };
    const label = `webhook ${body.type}`;
    const webhook = this.doc.webhooks?.[body.type];
    if (!webhook) {
      this.problems.push(`${label}: the ${this.name} document has no such webhook`);
      return;
    }
    this.delivered.add(body.type);
    const absent = (webhook.post.parameters ?? [])
      .filter((p) => p.in === 'header' && p.required && received.headers[p.name.toLowerCase()] === undefined)
      .map((p) => p.name);
    if (absent.length > 0) this.problems.push(`${label}: required headers not sent: ${absent.join(', ')}`);
    // Each header sent as its parameter's schema says (webhook-timestamp: Unix seconds).
    (webhook.post.parameters ?? []).forEach((p, i) => {
      const value = received.headers[p.name.toLowerCase()];
      if (p.in !== 'header' || value === undefined) return;
      const validate = this.validator(`/webhooks/${segment(body.type)}/post/parameters/${i}/schema`);
      if (!validate(value))
        this.problems.push(`${label}: header ${p.name}: ${value} does not match its schema`);
    });
    const validate = this.validator(
      `/webhooks/${segment(body.type)}/post/requestBody/content/${segment('application/json')}/schema`,
    );
    if (!validate(body))
      this.problems.push(
        `${label}: body does not match the schema: ${JSON.stringify(validate.errors)}; body: ${received.body.slice(0, 500)}`,
      );
  }

  /**
   * Every listed operation was called with a success or redirect (its errors alone, which cheapErrors gets
   * from any operation, do not count), or is skipped with a reason; and nothing failed.
   */
  assertComplete(): void {
    const missing = this.operations()
      .map((o) => o.label)
      .filter((label) => SKIPPED[label] === undefined)
      .filter((label) => ![...(this.called.get(label) ?? [])].some((status) => status < 400))
      .map(
        (label) =>
          `no call for operation ${label} (none that succeeded or redirected; statuses seen: ${[...(this.called.get(label) ?? [])].join(', ') || 'none'})`,
      );
    for (const type of Object.keys(this.doc.webhooks ?? {}))
      if (!this.delivered.has(type)) missing.push(`no delivery for webhook ${type}`);
    const problems = [...missing, ...this.problems];
    assert.equal(problems.length, 0, `${this.name} document vs answers:\n${problems.join('\n')}`);
  }
}

for (const kind of databaseKinds) {
  describe(`OpenAPI contract: the answers are what the documents say (${kind})`, () => {
    let server: TestServer;
    let receiver: Receiver;
    /** Receivers that answer 500: callbacks sent there fail. */
    const failing: Receiver[] = [];

    before(async () => {
      receiver = await startReceiver();
      server = await startTestServer(
        kind,
        {
          GATEHOUSE_WEBHOOK_ALLOW_NETS: '127.0.0.0/8',
          // Every key then has limits, and every answer to a key its limit headers.
          GATEHOUSE_DEFAULT_PER_MINUTE: '100000',
          GATEHOUSE_DEFAULT_PER_DAY: '1000000',
          GATEHOUSE_DEFAULT_PER_MONTH: '10000000',
        },
        { worker: true },
      );
      // No retries: a callback that fails is at once a request.failed event.
      await server.createEndpoint({
        slug: 'orders',
        name: 'Orders',
        schema: ordersSchema,
        max_body_bytes: 2048,
        retry: { max_retries: 0 },
      });
      await server.admin('POST', '/admin/v1/endpoints/orders/deploy');
      // An App with a route for keys and a public one, for the data documents of both environments.
      const app = await server.admin('POST', '/admin/v1/apps', {
        slug: 'shop',
        name: 'Shop',
        routes: [
          {
            method: 'GET',
            path: '/ping',
            auth: 'apiKey',
            steps: [{ name: 'out', type: 'respond', body: "'pong'" }],
          },
          {
            method: 'GET',
            path: '/open',
            auth: 'public',
            steps: [{ name: 'out', type: 'respond', body: "'hi'" }],
          },
          {
            method: 'GET',
            path: '/orders/:order_id/status',
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
                body: "{ 'error': 'none' }",
              },
              { name: 'status', type: 'respond', body: "{ 'amount': matches[0].data.amount }" },
            ],
          },
          {
            method: 'POST',
            path: '/checkout',
            auth: 'public',
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
                data: "{ 'order_id': body.order_id, 'amount': body.amount }",
              },
              { name: 'thanks', type: 'redirect', url: "'https://shop.example/thanks'" },
            ],
          },
        ],
      });
      assert.equal(app.status, 201, app.text);
      await server.admin('POST', '/admin/v1/apps/shop/deploy');
    });
    after(async () => {
      await server.close();
      await receiver.close();
      for (const r of failing) await r.close();
    });

    test('every management operation answers as the management document says', async () => {
      const doc = (await server.admin('GET', '/admin/v1/openapi.json')).body;
      const c = new Contract('management', doc, server, server.token, true);
      const get = (path: string, options: Partial<CallOptions> = {}) =>
        c.call('GET', path, { expect: 200, ...options });

      await get('/admin/v1/openapi.json');
      await get('/admin/v1/setup', { anonymous: true });

      // Endpoints.
      await c.call('POST', '/admin/v1/endpoints', {
        json: {
          slug: 'notes',
          name: 'Notes',
          schema: { type: 'object', properties: { text: { type: 'string' } } },
        },
        expect: 201,
      });
      await c.call('POST', '/admin/v1/endpoints', {
        json: { slug: 'notes', name: 'Notes again', schema: { type: 'object' } },
        expect: 409,
      });
      await c.call('POST', '/admin/v1/endpoints', {
        json: { slug: 'bad', name: 'Bad', schema: { type: 'nonsense' } },
        expect: 400,
      });
      await get('/admin/v1/endpoints');
      await get('/admin/v1/endpoints/{slug}', { params: { slug: 'notes' } });
      await get('/admin/v1/endpoints/{slug}', { params: { slug: 'missing' }, expect: 404 });
      await c.call('PATCH', '/admin/v1/endpoints/{slug}', {
        params: { slug: 'notes' },
        json: { name: 'Notes (renamed)' },
        expect: 200,
      });
      await c.call('PATCH', '/admin/v1/endpoints/{slug}', {
        params: { slug: 'notes' },
        json: { schema: { type: 12 } },
        expect: 400,
      });
      await c.call('POST', '/admin/v1/endpoints/{slug}/deploy', { params: { slug: 'notes' }, expect: 201 });
      await get('/admin/v1/endpoints/{slug}/versions', { params: { slug: 'notes' } });
      await get('/admin/v1/endpoints/{slug}/versions', { params: { slug: 'missing' }, expect: 404 });

      // Keys.
      const key = (
        await c.call('POST', '/admin/v1/keys', {
          json: { name: 'contract', environment: 'test' },
          expect: 201,
        })
      ).body.data as { id: string; key: string };
      await c.call('POST', '/admin/v1/keys', { json: { environment: 'test' }, expect: 400 });
      await get('/admin/v1/keys');
      await get('/admin/v1/keys/{id}', { params: { id: key.id } });
      await get('/admin/v1/keys/{id}', { params: { id: 'key_missing' }, expect: 404 });
      await get('/admin/v1/keys/{id}/callback-signing-secret', { params: { id: key.id } });
      await get('/admin/v1/keys/{id}/callback-signing-secret', {
        params: { id: 'key_missing' },
        expect: 404,
      });
      await c.call('POST', '/admin/v1/keys/{id}/rotate-callback-secret', {
        params: { id: key.id },
        json: { grace_seconds: 60 },
        expect: 200,
      });
      await get('/admin/v1/keys/{id}/callback-signing-secret', { params: { id: key.id } });
      await c.call('POST', '/admin/v1/keys/{id}/rotate-callback-secret', {
        params: { id: key.id },
        json: { grace_seconds: -1 },
        expect: 400,
      });
      await c.call('POST', '/admin/v1/keys/{id}/rotate-callback-secret', {
        params: { id: 'key_missing' },
        expect: 404,
      });
      await c.call('PATCH', '/admin/v1/keys/{id}', {
        params: { id: key.id },
        json: { name: 'contract 2' },
        expect: 200,
      });
      await c.call('PATCH', '/admin/v1/keys/{id}', {
        params: { id: key.id },
        json: { name: 5 },
        expect: 400,
      });
      const other = (await server.createKey({ name: 'other', environment: 'test' })).id;
      for (const action of ['deactivate', 'activate', 'roll', 'revoke'])
        await c.call('POST', `/admin/v1/keys/{id}/${action}`, { params: { id: other }, expect: 200 });
      await c.call('POST', '/admin/v1/keys/{id}/activate', { params: { id: other }, expect: 409 });
      await c.call('POST', '/admin/v1/keys/{id}/revoke', { params: { id: 'key_missing' }, expect: 404 });

      // Console records.
      const record = (
        await c.call('POST', '/admin/v1/console/{slug}/records', {
          params: { slug: 'orders' },
          json: { order_id: 'C-1', amount: 1 },
          expect: 201,
        })
      ).body.data as { id: string };
      await c.call('POST', '/admin/v1/console/{slug}/records', {
        params: { slug: 'orders' },
        json: { amount: 'one' },
        expect: 400,
      });
      await get('/admin/v1/console/{slug}/records', { params: { slug: 'orders' } });
      await get('/admin/v1/console/{slug}/records', { params: { slug: 'missing' }, expect: 404 });
      await get('/admin/v1/console/{slug}/records/{id}', { params: { slug: 'orders', id: record.id } });
      await get('/admin/v1/console/{slug}/records/{id}', {
        params: { slug: 'orders', id: 'rec_0000000000000000000000' },
        expect: 404,
      });
      await c.call('PUT', '/admin/v1/console/{slug}/records/{id}', {
        params: { slug: 'orders', id: record.id },
        json: { order_id: 'C-1', amount: 2 },
        expect: 200,
      });
      await c.call('DELETE', '/admin/v1/console/{slug}/records/{id}', {
        params: { slug: 'orders', id: record.id },
        expect: 200,
      });

      // Import and export.
      await c.call('POST', '/admin/v1/endpoints/{slug}/import', {
        params: { slug: 'orders' },
        json: { records: [{ order_id: 'I-1', amount: 3 }] },
        expect: 200,
      });
      await c.call('POST', '/admin/v1/endpoints/{slug}/import', {
        params: { slug: 'orders' },
        json: { rows: [] },
        expect: 400,
      });
      await get('/admin/v1/endpoints/{slug}/export', { params: { slug: 'orders' } });
      await get('/admin/v1/endpoints/{slug}/export', { params: { slug: 'missing' }, expect: 404 });

      // Webhook subscriptions, and a delivery to them.
      const subscription = (
        await c.call('POST', '/admin/v1/endpoints/{slug}/webhooks', {
          params: { slug: 'orders' },
          json: { url: receiver.url, environment: 'test' },
          expect: 201,
        })
      ).body.data as { id: string };
      await c.call('POST', '/admin/v1/endpoints/{slug}/webhooks', {
        params: { slug: 'orders' },
        json: { url: 'not a url', environment: 'test' },
        expect: 400,
      });
      await get('/admin/v1/endpoints/{slug}/webhooks', { params: { slug: 'orders' } });
      await get('/admin/v1/webhooks');
      await get('/admin/v1/webhooks', { query: 'environment=staging', expect: 400 });
      await get('/admin/v1/webhooks/{id}', { params: { id: subscription.id } });
      await get('/admin/v1/webhooks/{id}', { params: { id: 'whk_missing' }, expect: 404 });
      await c.call('PATCH', '/admin/v1/webhooks/{id}', {
        params: { id: subscription.id },
        json: { events: ['record.created'] },
        expect: 200,
      });
      await c.call('POST', '/admin/v1/webhooks/{id}/rotate-secret', {
        params: { id: subscription.id },
        expect: 200,
      });
      await get('/admin/v1/webhook-signing-secret');
      const write = await server.request('POST', '/api/v1/data/orders', {
        key: key.key,
        json: { order_id: 'W-1', amount: 4 },
      });
      assert.equal(write.status, 202, write.text);
      await receiver.waitFor(1);
      const deliveries = await until(
        () => server.admin('GET', '/admin/v1/deliveries'),
        (list) => list.body.data?.length > 0,
      );
      const delivery = deliveries.body.data[0].id as string;
      await get('/admin/v1/deliveries');
      await get('/admin/v1/deliveries/{id}', { params: { id: delivery } });
      await get('/admin/v1/deliveries/{id}', { params: { id: 'dlv_missing' }, expect: 404 });
      await c.call('POST', '/admin/v1/deliveries/{id}/redeliver', { params: { id: delivery }, expect: 202 });
      await c.call('POST', '/admin/v1/deliveries/{id}/redeliver', {
        params: { id: 'dlv_missing' },
        expect: 404,
      });
      await c.call('DELETE', '/admin/v1/webhooks/{id}', { params: { id: subscription.id }, expect: 200 });
      await c.call('DELETE', '/admin/v1/webhooks/{id}', { params: { id: subscription.id }, expect: 404 });

      // Usage, the test page.
      await get('/admin/v1/usage');
      await c.call('POST', '/admin/v1/test-requests', {
        json: { key_id: key.id, method: 'GET', path: '/api/v1/data/orders' },
        expect: 201,
      });
      await c.call('POST', '/admin/v1/test-requests', {
        json: { key_id: key.id, method: 'GET', path: '/admin/v1/keys' },
        expect: 400,
      });
      await get('/admin/v1/test-requests');

      // Apps.
      const route = {
        method: 'GET',
        path: '/hello',
        steps: [{ name: 'out', type: 'respond', body: "'hi'" }],
      };
      await c.call('POST', '/admin/v1/apps', {
        json: { slug: 'portal', name: 'Portal', routes: [route] },
        expect: 201,
      });
      await c.call('POST', '/admin/v1/apps', {
        json: { slug: 'portal', name: 'Portal', routes: [route] },
        expect: 409,
      });
      await c.call('POST', '/admin/v1/apps', {
        json: { slug: 'broken', name: 'Broken', routes: [{ ...route, path: 'no-slash' }] },
        expect: 400,
      });
      await get('/admin/v1/apps');
      await get('/admin/v1/apps/{slug}', { params: { slug: 'portal' } });
      await get('/admin/v1/apps/{slug}', { params: { slug: 'missing' }, expect: 404 });
      await c.call('PATCH', '/admin/v1/apps/{slug}', {
        params: { slug: 'portal' },
        json: { name: 'Portal 2' },
        expect: 200,
      });
      await c.call('POST', '/admin/v1/apps/{slug}/deploy', { params: { slug: 'portal' }, expect: 201 });
      await get('/admin/v1/apps/{slug}/versions', { params: { slug: 'portal' } });
      await c.call('DELETE', '/admin/v1/apps/{slug}', { params: { slug: 'portal' }, expect: 200 });
      await c.call('DELETE', '/admin/v1/apps/{slug}', { params: { slug: 'portal' }, expect: 404 });

      // Management tokens and signing keys.
      const minted = (await c.call('POST', '/admin/v1/tokens', { json: { name: 'ci' }, expect: 201 })).body
        .data as { id: string };
      await c.call('POST', '/admin/v1/tokens', { json: { name: 7 }, expect: 400 });
      await get('/admin/v1/tokens');
      await c.call('DELETE', '/admin/v1/tokens/{id}', { params: { id: minted.id }, expect: 200 });
      await c.call('DELETE', '/admin/v1/tokens/{id}', { params: { id: minted.id }, expect: 404 });
      await c.call('POST', '/admin/v1/tokens/rotate-signing-key', { expect: 200 });

      // Invites, collaborators, sessions, the audit log.
      const invite = (
        await c.call('POST', '/admin/v1/invites', { json: { email: 'collab@example.com' }, expect: 201 })
      ).body.data as { id: string; url: string };
      await c.call('POST', '/admin/v1/invites', { json: { email: 'not an email' }, expect: 400 });
      await get('/admin/v1/invites');
      const inviteToken = invite.url.split('/').pop() as string;
      await get('/admin/v1/invites/lookup', { anonymous: true, query: `token=${inviteToken}` });
      await get('/admin/v1/invites/lookup', { anonymous: true, query: 'token=nope', expect: 404 });
      const accepted = await c.call('POST', '/admin/v1/invites/accept', {
        anonymous: true,
        json: { token: inviteToken, password: 'collaborator password' },
        expect: 201,
      });
      await c.call('POST', '/admin/v1/invites/accept', {
        anonymous: true,
        json: { token: inviteToken, password: 'collaborator password' },
        expect: 404,
      });
      const second = (await server.admin('POST', '/admin/v1/invites', { email: 'later@example.com' })).body
        .data;
      await c.call('DELETE', '/admin/v1/invites/{id}', { params: { id: second.id }, expect: 200 });
      await c.call('DELETE', '/admin/v1/invites/{id}', { params: { id: second.id }, expect: 404 });
      await get('/admin/v1/collaborators');
      const collaborator = accepted.body.data.user?.id ?? accepted.body.data.user_id;
      await c.call('DELETE', '/admin/v1/collaborators/{id}', { params: { id: collaborator }, expect: 200 });
      await c.call('DELETE', '/admin/v1/collaborators/{id}', { params: { id: collaborator }, expect: 404 });
      await get('/admin/v1/audit');
      await c.call('DELETE', '/admin/v1/endpoints/{slug}', { params: { slug: 'notes' }, expect: 200 });
      await c.call('DELETE', '/admin/v1/endpoints/{slug}', { params: { slug: 'notes' }, expect: 404 });

      const signIn = await c.call('POST', '/admin/v1/session', {
        anonymous: true,
        json: { email: 'owner@example.com', password: 'correct horse battery' },
        expect: 200,
      });
      await c.call('POST', '/admin/v1/session', {
        anonymous: true,
        json: { email: 'owner@example.com', password: 'wrong horse battery' },
        expect: 401,
      });
      await c.call('POST', '/admin/v1/session', { anonymous: true, json: { email: 'x' }, expect: 400 });
      const cookie = (signIn.headers.get('set-cookie') ?? '').split(';')[0] as string;
      const session = await get('/admin/v1/session', { anonymous: true, headers: { cookie } });
      await get('/admin/v1/session', { expect: 401 });
      await c.call('DELETE', '/admin/v1/session', { anonymous: true, headers: { cookie }, expect: 403 });
      await c.call('DELETE', '/admin/v1/session', {
        anonymous: true,
        headers: { cookie, 'x-csrf-token': session.body.data.csrf_token },
        expect: 200,
      });
      await get('/admin/v1/keys', { headers: { 'x-big': 'x'.repeat(17 * 1024) }, expect: 431 });
      await c.call('PUT', '/admin/v1/account/password', {
        json: { current_password: 'wrong horse battery', new_password: 'another horse battery' },
        expect: 400,
      });
      await c.call('PUT', '/admin/v1/account/password', {
        json: { current_password: 'correct horse battery', new_password: 'another horse battery' },
        expect: 200,
      });

      // Sign-in is throttled: the sixth wrong password for one email from one address is a 429.
      for (let attempt = 1; attempt <= 6; attempt++)
        await c.call('POST', '/admin/v1/session', {
          anonymous: true,
          json: { email: 'nobody@example.com', password: 'wrong horse battery' },
          expect: attempt < 6 ? 401 : 429,
        });
      await c.cheapErrors();
      c.assertComplete();
    });

    for (const environment of ['test', 'live'] as const)
      test(`every data API operation answers as the data document of ${environment} says`, async () => {
        const key = (await server.createKey({ name: 'data', environment })).key;
        const reader = (await server.createKey({ name: 'reader', environment, scopes: ['orders:read'] })).key;
        const doc = (await server.request('GET', '/api/v1/openapi.json', { key })).body;
        const c = new Contract(`data (${environment})`, doc, server);
        // Every event type reaches a subscription: request.failed when a callback fails.
        const events = ['record.created', 'record.updated', 'record.deleted', 'request.failed'];
        const subscribed = await server.admin('POST', '/admin/v1/endpoints/orders/webhooks', {
          url: receiver.url,
          environment,
          events,
        });
        assert.equal(subscribed.status, 201, subscribed.text);
        const refusing = await startReceiver();
        failing.push(refusing);
        refusing.respond = () => ({ status: 500 });

        await c.call('GET', '/health', { expect: 200 });
        await c.call('GET', '/api/v1/openapi.json', { key, expect: 200 });
        await c.call('GET', '/api/v1/account', { key, expect: 200 });
        await c.call('GET', '/api/v1/apps/shop/ping', { key, expect: 200 });
        await c.call('GET', '/api/v1/apps/shop/open', {
          anonymous: true,
          query: environment === 'test' ? 'environment=test' : undefined,
          expect: 200,
        });

        const created = await c.call('POST', '/api/v1/data/orders', {
          key,
          json: { order_id: 'D-1', amount: 5 },
          headers: { 'idempotency-key': `contract-${environment}` },
          expect: 202,
        });
        const id = created.body.id as string;
        await c.call('POST', '/api/v1/data/orders', {
          key,
          json: { order_id: 'D-CB', amount: 5 },
          headers: { 'x-webhook-callback': refusing.url },
          expect: 202,
        });
        const orders = { params: { record_id: id } };
        const status = '/api/v1/apps/shop/orders/{order_id}/status';
        await c.call('GET', status, { key, params: { order_id: 'D-CB' }, expect: 200 });
        await c.call('GET', status, { key, params: { order_id: 'nope' }, expect: 404 });
        await c.call('POST', '/api/v1/apps/shop/checkout', {
          key,
          json: { order_id: 'A-1', amount: 3 },
          expect: 302,
        });
        await c.call('POST', '/api/v1/apps/shop/checkout', { key, json: { order_id: 'A-2' }, expect: 400 });
        // The same again: a replay.
        const replay = await c.call('POST', '/api/v1/data/orders', {
          key,
          json: { order_id: 'D-1', amount: 5 },
          headers: { 'idempotency-key': `contract-${environment}` },
          expect: 202,
        });
        assert.equal(replay.headers.get('idempotent-replayed'), 'true');
        assert.equal(replay.headers.get('original-request-id'), created.headers.get('request-id'));
        await c.call('POST', '/api/v1/data/orders', {
          key,
          json: { order_id: 'D-1', amount: 6 },
          headers: { 'idempotency-key': `contract-${environment}` },
          expect: 422,
        });
        await c.call('POST', '/api/v1/data/orders', { key, json: { amount: -1 }, expect: 400 });
        await c.call('POST', '/api/v1/data/orders', {
          key,
          raw: '{"order_id":',
          headers: { 'content-type': 'application/json' },
          expect: 400,
        });
        await c.call('POST', '/api/v1/data/orders', {
          key,
          json: { order_id: 'D-2', amount: 1, items: ['x'.repeat(4096)] },
          expect: 413,
        });
        await c.call('POST', '/api/v1/data/orders', {
          key: reader,
          json: { order_id: 'D-3', amount: 1 },
          expect: 403,
        });
        await c.call('GET', '/api/v1/data/orders', { key, expect: 200 });
        await c.call('GET', '/api/v1/data/orders', { key, query: 'after=garbage', expect: 400 });
        await c.call('GET', '/api/v1/data/orders/{record_id}', { key, ...orders, expect: 200 });
        await c.call('GET', '/api/v1/data/orders/{record_id}', {
          key,
          params: { record_id: 'rec_0000000000000000000000' },
          expect: 404,
        });
        await c.call('PUT', '/api/v1/data/orders/{record_id}', {
          key,
          ...orders,
          json: { order_id: 'D-1', amount: 7 },
          expect: 202,
        });
        await c.call('PUT', '/api/v1/data/orders/{record_id}', {
          key,
          ...orders,
          json: { order_id: 1 },
          expect: 400,
        });
        await c.call('PUT', '/api/v1/data/orders/{record_id}', {
          key,
          params: { record_id: 'rec_0000000000000000000000' },
          json: { order_id: 'D-9', amount: 7 },
          expect: 404,
        });
        // An Idempotency-Key used before for another request is a 422 on every write.
        for (const [verb, path] of [
          ['PUT', '/api/v1/data/orders/{record_id}'],
          ['DELETE', '/api/v1/data/orders/{record_id}'],
        ] as const)
          await c.call(verb, path, {
            key,
            ...orders,
            json: { order_id: 'D-1', amount: 8 },
            headers: { 'idempotency-key': `contract-${environment}` },
            expect: 422,
          });
        await c.call('DELETE', '/api/v1/data/orders/{record_id}', { key: reader, ...orders, expect: 403 });
        await c.call('GET', '/api/v1/apps/shop/open', { key, expect: 200 });
        // Headers over 16 KiB: answered by the HTTP server before any route or key.
        await c.call('GET', '/api/v1/account', {
          key,
          headers: { 'x-big': 'x'.repeat(17 * 1024) },
          expect: 431,
        });
        await c.call('DELETE', '/api/v1/data/orders/{record_id}', { key, ...orders, expect: 202 });
        await c.call('DELETE', '/api/v1/data/orders/{record_id}', {
          key,
          params: { record_id: 'rec_0000000000000000000000' },
          expect: 404,
        });
        await c.call('POST', '/api/v1/tokens', { key, json: { expires_in: 60 }, expect: 201 });
        await c.call('POST', '/api/v1/tokens', { key, json: { expires_in: 5 }, expect: 400 });
        const jwt = (await server.request('POST', '/api/v1/tokens', { key, json: {} })).body.data.token;
        await c.call('POST', '/api/v1/tokens', { token: jwt, json: {}, expect: 403 });

        // A key with one request a minute: its second is a 429 (both within one clock minute).
        await awayFromMinuteEdge(5);
        const once = (await server.createKey({ name: 'once', environment, limits: { per_minute: 1 } })).key;
        await c.call('GET', '/api/v1/account', { key: once, expect: 200 });
        await c.call('GET', '/api/v1/account', { key: once, expect: 429 });
        await c.call('POST', '/api/v1/data/orders', {
          key: once,
          json: { order_id: 'L-1', amount: 1 },
          expect: 429,
        });
        await c.cheapErrors(key);
        const deliveries = await until(
          async () =>
            [...receiver.received, ...(await refusing.waitFor(1))].filter((r) =>
              r.body.includes(`"environment":"${environment}"`),
            ),
          (got) => events.every((type) => got.some((r) => r.body.includes(`"type":"${type}"`))),
          15_000,
        );
        for (const delivery of deliveries) c.checkDelivery(delivery);
        c.assertComplete();
      });
  });
}
