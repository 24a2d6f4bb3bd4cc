import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { type Browser, chromium } from 'playwright-core';
import { startTestServer, type TestServer } from './helpers/server.ts';

const CHROMIUM = '/usr/bin/chromium';

type Json = Record<string, unknown>;

/** Formats, a minLength, an enum, a nullable field, a $defs $ref, arrays and a nested pattern. */
const shipmentsSchema = {
  type: 'object',
  required: ['order_id', 'status', 'items'],
  additionalProperties: false,
  $defs: {
    money: {
      type: 'object',
      required: ['amount', 'currency'],
      properties: { amount: { type: 'integer', minimum: 1 }, currency: { enum: ['EUR', 'USD'] } },
    },
  },
  properties: {
    order_id: { type: 'string', minLength: 3 },
    status: { type: 'string', enum: ['new', 'paid', 'shipped'] },
    email: { type: 'string', format: 'email' },
    placed_at: { type: 'string', format: 'date-time' },
    note: { type: ['string', 'null'] },
    total: { $ref: '#/$defs/money' },
    items: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        required: ['sku', 'qty'],
        properties: { sku: { type: 'string' }, qty: { type: 'integer', minimum: 1 } },
      },
    },
    shipping: {
      type: 'object',
      properties: { zip: { type: 'string', pattern: '^[0-9]{5}$' } },
    },
  },
};

/** The text of each `<pre>` on screen holding a curl command (the operation's code sample). */
const VISIBLE_CURLS = `[...document.querySelectorAll('pre')].filter((pre) => {
  const box = pre.getBoundingClientRect();
  return pre.textContent.includes('curl ') && box.top < innerHeight && box.bottom > 0;
}).map((pre) => pre.textContent)`;

/** The request body of each operation that takes one, as the document's example gives it. */
function examples(doc: Json): Array<{ method: string; path: string; example: unknown }> {
  const out: Array<{ method: string; path: string; example: unknown }> = [];
  for (const [path, item] of Object.entries(doc.paths as Record<string, Record<string, Json>>)) {
    if (!path.startsWith('/api/v1/data/')) continue;
    for (const [method, operation] of Object.entries(item)) {
      const body = operation.requestBody as { content: Record<string, { example?: unknown }> } | undefined;
      if (body) out.push({ method, path, example: body.content['application/json']?.example });
    }
  }
  return out;
}

describe('the reference page as a partner meets it', () => {
  let server: TestServer;
  let testKey: string;
  let liveKey: string;

  before(async () => {
    server = await startTestServer('sqlite');
    await server.createEndpoint({ slug: 'shipments', name: 'Shipments', schema: shipmentsSchema });
    await server.createEndpoint({
      slug: 'codes',
      name: 'Codes',
      // A required field no value meets (no multiple of 5 is at least 1 and under 2).
      schema: {
        type: 'object',
        required: ['code'],
        properties: { code: { type: 'integer', minimum: 1, exclusiveMaximum: 2, multipleOf: 5 } },
      },
    });
    assert.equal((await server.admin('POST', '/admin/v1/endpoints/shipments/deploy')).status, 201);
    testKey = (await server.createKey({ name: 'docs test', environment: 'test' })).key;
    liveKey = (await server.createKey({ name: 'docs live', environment: 'live' })).key;
  });
  after(async () => {
    await server.close();
  });

  for (const environment of ['test', 'live'] as const) {
    test(`each documented request body (${environment}) is one the endpoint takes: 202`, async () => {
      const key = environment === 'test' ? testKey : liveKey;
      const doc = (await server.request('GET', '/api/v1/openapi.json', { key })).body as Json;
      const shipments = examples(doc).filter((e) => e.path.startsWith('/api/v1/data/shipments'));
      assert.deepEqual(
        shipments.map((e) => `${e.method} ${e.path}`),
        ['post /api/v1/data/shipments', 'put /api/v1/data/shipments/{record_id}'],
      );
      const created = await server.request('POST', '/api/v1/data/shipments', {
        key,
        json: shipments[0]?.example,
      });
      assert.equal(created.status, 202, JSON.stringify(created.body));
      // Every field is shown, its format, bounds and pattern met (the zip's five digits).
      assert.deepEqual(shipments[0]?.example, {
        order_id: 'order_id-1',
        status: 'new',
        email: 'user@example.com',
        placed_at: '2025-01-01T12:00:00Z',
        note: 'note-1',
        total: { amount: 1, currency: 'EUR' },
        items: [{ sku: 'sku-1', qty: 1 }],
        shipping: { zip: '00000' },
      });
      const replaced = await server.request('PUT', `/api/v1/data/shipments/${created.body.id}`, {
        key,
        json: shipments[1]?.example,
      });
      assert.equal(replaced.status, 202, JSON.stringify(replaced.body));
      // A required field no value meets: no example, rather than one the endpoint refuses (live has no codes: it was never deployed).
      const codes = examples(doc).filter((e) => e.path.startsWith('/api/v1/data/codes'));
      assert.equal(codes.length, environment === 'test' ? 2 : 0);
      for (const { example } of codes) assert.equal(example, undefined);
    });
  }

  test("an App route's documented body is one the route takes", async () => {
    const app = await server.admin('POST', '/admin/v1/apps', {
      slug: 'signup',
      name: 'Signup',
      routes: [
        {
          method: 'POST',
          path: '/join',
          auth: 'public',
          body_schema: {
            type: 'object',
            required: ['email', 'born'],
            properties: {
              email: { type: 'string', format: 'email' },
              born: { type: 'string', format: 'date' },
              code: { type: 'string', pattern: '^[A-Z]{3}$' },
            },
          },
          steps: [{ name: 'done', type: 'respond', body: "{ 'email': body.email }" }],
        },
      ],
    });
    assert.equal(app.status, 201, JSON.stringify(app.body));
    const doc = (await server.request('GET', '/docs/openapi.json')).body as Json;
    const paths = doc.paths as Record<string, Record<string, Json>>;
    const body = paths['/api/v1/apps/signup/join']?.post?.requestBody as {
      content: Record<string, { example?: unknown }>;
    };
    const example = body.content['application/json']?.example;
    assert.deepEqual(example, { email: 'user@example.com', born: '2025-01-01', code: 'AAA' });
    const joined = await server.request('POST', '/api/v1/apps/signup/join?environment=test', {
      json: example,
    });
    assert.equal(joined.status, 200, JSON.stringify(joined.body));
    assert.deepEqual(joined.body, { email: 'user@example.com' });
  });

  describe('in a real browser', {
    skip: existsSync(CHROMIUM) ? false : `${CHROMIUM} is not installed (.ci/run installs it)`,
  }, () => {
    let browser: Browser;
    before(async () => {
      browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run'],
      });
    });
    after(async () => {
      await browser.close();
    });

    /** The curl sample the page shows for an operation, opened by its link (`POST/api/v1/…`). */
    async function curlFor(operation: string): Promise<string> {
      const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
      try {
        await page.goto(`${server.url}/docs/#tag/shipments/${operation}`, { waitUntil: 'networkidle' });
        // Evaluated in the page (no DOM types here): the curl samples on screen.
        // (waitForFunction would eval a string, which the page's CSP refuses.)
        let visible: string[] = [];
        for (let tries = 0; visible.length === 0 && tries < 100; tries++) {
          if (tries > 0) await page.waitForTimeout(100);
          visible = (await page.evaluate(VISIBLE_CURLS)) as string[];
        }
        assert.equal(visible.length, 1, visible.join('\n---\n'));
        return visible[0] ?? '';
      } finally {
        await page.close();
      }
    }

    test("the create sample's body, copied from the page and sent with a key, is queued", async () => {
      const curl = await curlFor('POST/api/v1/data/shipments');
      const data = /--data '([\s\S]*)'/.exec(curl)?.[1];
      assert.ok(data, curl);
      const created = await server.request('POST', '/api/v1/data/shipments', {
        key: testKey,
        raw: data,
        headers: { 'content-type': 'application/json' },
      });
      assert.equal(created.status, 202, `${curl}\n${JSON.stringify(created.body)}`);
    });

    test("the page sends no one to Scalar's hosted client: try-it-out runs in the page", async () => {
      const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
      const sent: string[] = [];
      page.on('request', (request) => sent.push(request.url()));
      try {
        await page.goto(`${server.url}/docs/#tag/shipments/GET/api/v1/data/shipments`, {
          waitUntil: 'networkidle',
        });
        await page.getByText('Test Request').first().click();
        await page.getByText('Send', { exact: true }).first().waitFor();
        assert.equal(await page.getByText('Open API Client').count(), 0);
        assert.equal(await page.locator('a[href*="client.scalar.com"]').count(), 0);
        assert.deepEqual(
          sent.filter((url) => !url.startsWith(server.url)),
          [],
          'the page asks only its own origin',
        );
      } finally {
        await page.close();
      }
    });

    test("the read sample's URL names a record id, not {record_id} (a curl glob)", async () => {
      const curl = await curlFor('GET/api/v1/data/shipments/{record_id}');
      assert.match(
        curl,
        /^curl '?http:\/\/127\.0\.0\.1:\d+\/api\/v1\/data\/shipments\/rec_0352Gk5vYq1Rr7ZsT2aB9c'? /,
      );
    });
  });
});
