import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { ordersSchema, startTestServer, type TestServer } from './helpers/server.ts';

const run = promisify(execFile);

describe('gatehouse types', () => {
  let server: TestServer;
  const dir = mkdtempSync(join(process.cwd(), '.types-test-'));

  before(async () => {
    server = await startTestServer('sqlite');
    await server.createEndpoint({ slug: 'orders', name: 'Orders', schema: ordersSchema });
    await server.createEndpoint({
      slug: 'line-items',
      name: 'Line items',
      schema: {
        type: 'object',
        properties: {
          sku: { type: 'string' },
          qty: { type: 'integer' },
          tags: { type: 'array', items: { enum: ['a', 'b'] } },
        },
        required: ['sku'],
      },
    });
  });
  after(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const cli = (...args: string[]) =>
    run(process.execPath, ['bin/gatehouse.js', ...args], {
      env: {
        ...process.env,
        GATEHOUSE_URL: server.url,
        GATEHOUSE_TOKEN: server.token,
        GATEHOUSE_CLI_CREDENTIALS: '/nonexistent',
      },
    });

  test('prints types the client accepts, and wrong writes fail to compile', async () => {
    const { stdout } = await cli('types');
    assert.match(stdout, /export interface OrdersData/);
    assert.match(stdout, /export interface LineItemsData/);
    assert.match(stdout, /"line-items": LineItemsData;/);
    writeFileSync(join(dir, 'endpoints.ts'), stdout);
    const client = join(process.cwd(), 'packages/client/src/index.ts');
    writeFileSync(
      join(dir, 'ok.ts'),
      `import { Gatehouse } from ${JSON.stringify(client)};\nimport type { Endpoints } from './endpoints.ts';\nconst gh = new Gatehouse<Endpoints>({ apiKey: 'k' });\nvoid gh.records('orders').create({ order_id: 'x', amount: 1 });\nvoid gh.records('line-items').create({ sku: 's', tags: ['a'] });\n`,
    );
    writeFileSync(
      join(dir, 'bad.ts'),
      `import { Gatehouse } from ${JSON.stringify(client)};\nimport type { Endpoints } from './endpoints.ts';\nconst gh = new Gatehouse<Endpoints>({ apiKey: 'k' });\nvoid gh.records('line-items').create({ sku: 's', tags: ['c'] });\n`,
    );
    const tsc = (file: string) =>
      run(process.execPath, [
        'node_modules/typescript/bin/tsc',
        '--noEmit',
        '--strict',
        '--target',
        'ES2022',
        '--module',
        'NodeNext',
        '--moduleResolution',
        'NodeNext',
        '--allowImportingTsExtensions',
        '--skipLibCheck',
        '--types',
        'node',
        join(dir, file),
      ]);
    await tsc('ok.ts');
    await assert.rejects(tsc('bad.ts'), (e: { stdout: string }) =>
      /Type '"c"' is not assignable/.test(e.stdout),
    );

    const one = await cli('types', '--endpoint', 'orders');
    assert.doesNotMatch(one.stdout, /LineItems/);
    const live = await cli('types', '--env', 'live');
    assert.doesNotMatch(live.stdout, /OrdersData/, 'nothing is deployed yet');
  });
});
