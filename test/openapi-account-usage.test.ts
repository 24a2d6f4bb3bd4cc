import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { ordersSchema, startTestServer, type TestServer } from './helpers/server.ts';
import { nodeProjectOptions, tsc } from './helpers/tsc.ts';

const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => void;

/**
 * `GET /api/v1/account`'s `usage` (each window's used, limit, remaining and resets_at, as
 * docs/limits.md shows it) is described by the data document and typed by @gatehouse/client, so a
 * partner reads `usage.minute.remaining` from either without a cast.
 */
describe('the account usage a partner reads, as documented and typed', () => {
  let server: TestServer;
  let key: string;
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-account-usage-'));

  before(async () => {
    server = await startTestServer('sqlite');
    await server.createEndpoint({ slug: 'orders', name: 'Orders', schema: ordersSchema });
    key = (await server.createKey({ name: 'usage', environment: 'test', limits: { per_minute: 50 } })).key;
  });
  after(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test("the data document's account schema describes usage window by window", async () => {
    const document = (await server.request('GET', '/api/v1/openapi.json', { key })).body;
    const account = await server.request('GET', '/api/v1/account', { key });
    assert.equal(account.status, 200, `account: ${account.text}`);
    const ajv = new Ajv2020({ strict: false });
    addFormats(ajv);
    ajv.addSchema(document, 'data');
    const validate = ajv.getSchema(
      'data#/paths/~1api~1v1~1account/get/responses/200/content/application~1json/schema',
    );
    assert.ok(validate, 'the document declares a schema for the account answer');
    assert.ok(validate(account.body), `the real answer validates: ${JSON.stringify(validate.errors)}`);
    const { usage } = account.body.data;
    assert.deepEqual(Object.keys(usage).sort(), ['day', 'minute', 'month'], 'usage has the three windows');
    assert.equal(usage.minute.limit, 50, "the minute window's limit is the key's own");
    // The schema says what a window holds: one with a field missing or of the wrong type is refused.
    const without = structuredClone(account.body);
    delete without.data.usage.minute.remaining;
    assert.equal(validate(without), false, 'a window without remaining does not validate');
    const wrong = structuredClone(account.body);
    wrong.data.usage.day.used = 'many';
    assert.equal(validate(wrong), false, 'a window whose used is a string does not validate');
    const unknown = structuredClone(account.body);
    unknown.data.usage.week = unknown.data.usage.day;
    assert.equal(validate(unknown), false, 'a window the server has not got does not validate');
    const none = structuredClone(account.body);
    none.data.usage = null;
    assert.ok(validate(none), 'usage may be null (counters unreachable)');
  });

  test("@gatehouse/client's Account types usage window by window", async () => {
    writeFileSync(
      join(dir, 'main.ts'),
      [
        `import type { Account, UsageWindow } from '${join(process.cwd(), 'packages/client/src/index.js')}';`,
        'export const remaining = (a: Account): number | null => (a.usage ? a.usage.minute.remaining : null);',
        'export const resets = (a: Account): string | undefined => a.usage?.month.resets_at;',
        'export const used = (w: UsageWindow): number => w.used + (w.limit ?? 0);',
        // A window the server has not got is refused (an unused @ts-expect-error is an error too).
        '// @ts-expect-error: usage has minute, day and month only',
        'export const week = (a: Account) => a.usage?.week;',
      ].join('\n'),
    );
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: nodeProjectOptions({}), files: ['main.ts'] }),
    );
    await tsc(dir);
  });
});
