import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { managementCli } from './helpers/process.ts';
import { ordersSchema, startDeliveringServer, type TestServer } from './helpers/server.ts';
import { nodeProjectOptions, tsc } from './helpers/tsc.ts';
import { until } from './helpers/until.ts';

const run = promisify(execFile);
const root = process.cwd();
/** Runs a partner's TypeScript file as it is (tsx strips the types). */
const tsx = pathToFileURL(join(root, 'node_modules/tsx/dist/esm/index.mjs')).href;

/** The TypeScript blocks of packages/client/README.md, in order. */
function readmeBlocks(): string[] {
  const readme = readFileSync(join(root, 'packages/client/README.md'), 'utf8');
  return [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1] ?? '');
}

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const address = probe.address();
  await new Promise((r) => probe.close(r));
  return typeof address === 'object' && address ? address.port : 0;
}

/**
 * packages/client/README.md as a partner uses it: the types from `gatehouse types`, the examples
 * copied into a project, compiled by strict settings (unused names refused, as many templates
 * do) and run against a real server, the receiver verifying a real delivery.
 */
describe("@gatehouse/client's README examples, compiled and run as written", () => {
  let server: TestServer;
  let key: string;
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-client-readme-'));
  const children: ChildProcess[] = [];

  before(async () => {
    server = await startDeliveringServer();
    // An orders endpoint as README's (order_id and amount required, paid), and more fields.
    await server.createEndpoint({ slug: 'orders', name: 'Orders', schema: ordersSchema });
    key = (await server.createKey({ name: 'readme', environment: 'test' })).key;
    mkdirSync(join(dir, 'node_modules/@gatehouse'), { recursive: true });
    symlinkSync(join(root, 'packages/client'), join(dir, 'node_modules/@gatehouse/client'));
    writeFileSync(
      join(dir, 'package.json'),
      JSON.stringify({ name: 'partner', type: 'module', private: true }),
    );
    const types = await managementCli(server)('types');
    assert.equal(types.code, 0, types.stderr);
    writeFileSync(join(dir, 'gatehouse-types.ts'), types.stdout);
  });
  after(async () => {
    for (const child of children) child.kill();
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('the examples compile under strict settings, and run', async () => {
    const blocks = readmeBlocks();
    assert.equal(blocks.length, 2, 'the README has the client example and the receiver');
    const [client = '', receiver = ''] = blocks;
    assert.match(receiver, /verifyWebhook/);
    // The one change a partner makes: the address of their Gatehouse.
    writeFileSync(join(dir, 'client.ts'), client.replace('https://api.example.com', server.url));
    writeFileSync(join(dir, 'receiver.ts'), receiver);
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: nodeProjectOptions({ noUnusedLocals: true, noUnusedParameters: true }),
        files: ['client.ts', 'receiver.ts'],
      }),
    );
    await tsc(dir);
    const ran = await run(process.execPath, ['--import', tsx, 'client.ts'], {
      cwd: dir,
      env: { ...process.env, GATEHOUSE_KEY: key },
    });
    assert.match(ran.stdout, /^1 45000$/m, ran.stdout);
    assert.match(ran.stdout, /^404 record_not_found req_/m, ran.stdout);

    // The receiver, verifying a real delivery with the subscription's secret.
    const port = await freePort();
    const sub = await server.admin('POST', '/admin/v1/endpoints/orders/webhooks', {
      url: `http://127.0.0.1:${port}/hooks`,
      environment: 'test',
      events: ['record.created'],
    });
    assert.equal(sub.status, 201, sub.text);
    let out = '';
    const child = spawn(process.execPath, ['--import', tsx, 'receiver.ts'], {
      cwd: dir,
      env: { ...process.env, PORT: String(port), GATEHOUSE_WEBHOOK_SECRET: sub.body.data.secret },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    children.push(child);
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    await until(
      async () => (await fetch(`http://127.0.0.1:${port}/`).catch(() => null))?.status,
      (status) => status === 400,
      60_000,
    );
    const created = await server.request('POST', '/api/v1/data/orders', {
      key,
      json: { order_id: 'ORD-HOOK', amount: 1 },
    });
    assert.equal(created.status, 202);
    await until(
      async () => out,
      (text) => text.includes(created.body.id),
      30_000,
    );
    assert.match(out, new RegExp(`^record\\.created ${created.body.id} ORD-HOOK$`, 'm'));
    const log = await until(
      () => server.admin('GET', `/admin/v1/deliveries?record_id=${created.body.id}`),
      (l) => l.body.data[0]?.status === 'succeeded',
    );
    assert.equal(log.body.data[0].attempts[0].status_code, 204);
  });
});
