import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { nodeProjectOptions, tsc } from './helpers/tsc.ts';

const run = promisify(execFile);
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

/**
 * @gatehouse/client as a partner gets it: packed (which builds dist/), installed into a fresh
 * project, compiled by that project's own strict settings and imported at run time.
 */
describe('@gatehouse/client as an installed package', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-client-pkg-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('packs, installs, type-checks under NodeNext + exactOptionalPropertyTypes, in a browser project without @types/node and in a CommonJS project, and runs', async () => {
    await run(npm, ['pack', '--pack-destination', dir, '-w', '@gatehouse/client'], { cwd: process.cwd() });
    const tarball = readdirSync(dir).find((name) => name.endsWith('.tgz'));
    assert.ok(tarball, 'npm pack made no tarball');
    // What the package's "license": "MIT" refers to ships with it.
    const listed = (await run('tar', ['-tzf', join(dir, tarball)])).stdout.split('\n');
    assert.ok(listed.includes('package/LICENSE'), listed.join(', '));
    const project = join(dir, 'project');
    await run('mkdir', ['-p', project]);
    writeFileSync(
      join(project, 'package.json'),
      JSON.stringify({ name: 'partner', type: 'module', private: true }),
    );
    await run(npm, ['install', '--offline', '--no-audit', '--no-fund', join(dir, tarball)], { cwd: project });
    writeFileSync(
      join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: nodeProjectOptions({
          exactOptionalPropertyTypes: true,
          noUncheckedIndexedAccess: true,
        }),
        files: ['main.ts'],
      }),
    );
    writeFileSync(
      join(project, 'main.ts'),
      [
        `import { Gatehouse, NotFoundError, verifyWebhook, type WebhookEvent } from '@gatehouse/client';`,
        `interface Endpoints { orders: { order_id: string; amount: number | bigint; tags?: string[] } }`,
        `const gh = new Gatehouse<Endpoints>({ apiKey: 'gk_test_x', baseUrl: 'http://127.0.0.1:9' });`,
        `const orders = gh.records('orders');`,
        `export const later = () => orders.create({ order_id: 'x', amount: 1152921504606846977n, tags: ['a'] });`,
        `export const failure = (e: WebhookEvent) => e.data.failure?.delivery_id;`,
        // The event's record is the record as get() answers it, endpoint and environment included.
        // Never null (docs/webhooks.md): read without a check, under strictNullChecks.
        `export const where = (e: WebhookEvent<{ order_id: string }>) => [e.data.record.endpoint, e.data.record.environment, e.data.record.object, e.data.record.data.order_id];`,
        `export const search = () => orders.listPage({ filter: { order_id: null } });`,
        // An array field takes no filter: the server would answer 400.
        `// @ts-expect-error tags is an array`,
        `export const byTags = () => orders.listPage({ filter: { tags: 'a' } });`,
        // A field named constructor, as gatehouse types writes it: any filter still type-checks.
        `interface Odd { sku: string; constructor?: string | {}["constructor"] }`,
        `export const odd = (other: Gatehouse<{ odd: Odd }>) => other.records('odd').listPage({ filter: { sku: 'a' } });`,
        `console.log(typeof Gatehouse, typeof verifyWebhook, new NotFoundError(404, 'not_found', 'x') instanceof Error);`,
      ].join('\n'),
    );
    await tsc(project);
    // A browser project: no @types/node (nor any @types), DOM's globals, and the package's
    // declarations checked too (no skipLibCheck).
    writeFileSync(
      join(project, 'tsconfig.browser.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          lib: ['ES2022', 'DOM'],
          module: 'ESNext',
          moduleResolution: 'Bundler',
          strict: true,
          types: [],
          noEmit: true,
        },
        files: ['browser.ts'],
      }),
    );
    writeFileSync(
      join(project, 'browser.ts'),
      [
        `import { Gatehouse, verifyWebhook, type WebhookEvent } from '@gatehouse/client';`,
        `interface Endpoints { orders: { order_id: string; amount: number | bigint } }`,
        `const gh = new Gatehouse<Endpoints>({ apiKey: 'gk_test_x', baseUrl: 'https://api.example.com', fetch: window.fetch });`,
        `export const later = () => gh.records('orders').create({ order_id: 'x', amount: 1 });`,
        `export const check = (body: Uint8Array, headers: Headers): WebhookEvent => verifyWebhook(body, headers, 'whsec_x');`,
      ].join('\n'),
    );
    await tsc(join(project, 'tsconfig.browser.json'));
    // Run the same file as JavaScript (types stripped by hand: it only has the two lines above).
    writeFileSync(
      join(project, 'main.js'),
      `import { Gatehouse, NotFoundError, verifyWebhook } from '@gatehouse/client';\nconsole.log(typeof Gatehouse, typeof verifyWebhook, new NotFoundError(404, 'not_found', 'x') instanceof Error);\n`,
    );
    const { stdout } = await run(process.execPath, ['main.js'], { cwd: project });
    assert.equal(stdout.trim(), 'function function true');

    // A CommonJS project, as the README says it may be: TypeScript's `import` compiled to
    // require() under NodeNext, run by Node (20.19+ loads an ES module with require()).
    const commonjs = join(dir, 'commonjs');
    await run('mkdir', ['-p', commonjs]);
    writeFileSync(
      join(commonjs, 'package.json'),
      JSON.stringify({ name: 'partner-cjs', type: 'commonjs', private: true }),
    );
    await run(npm, ['install', '--offline', '--no-audit', '--no-fund', join(dir, tarball)], {
      cwd: commonjs,
    });
    writeFileSync(
      join(commonjs, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: nodeProjectOptions({ noEmit: false, outDir: 'out' }),
        files: ['main.ts'],
      }),
    );
    writeFileSync(
      join(commonjs, 'main.ts'),
      [
        `import { Gatehouse, NotFoundError, verifyWebhook } from '@gatehouse/client';`,
        `const gh = new Gatehouse<{ orders: { order_id: string } }>({ apiKey: 'gk_test_x', baseUrl: 'http://127.0.0.1:9' });`,
        `export const later = () => gh.records('orders').get('rec_1');`,
        `console.log(typeof require, typeof verifyWebhook, new NotFoundError(404, 'not_found', 'x') instanceof Error);`,
      ].join('\n'),
    );
    await tsc(commonjs);
    const cjs = await run(process.execPath, ['out/main.js'], { cwd: commonjs });
    assert.equal(cjs.stdout.trim(), 'function function true');
  });
});
