/**
 * Gatehouse against a real peer, in one run: Directus 11.3.5 on SQLite with a static token,
 * installed by this script into a temporary folder (never a dependency of Gatehouse), and bare
 * node:http as the ceiling. Same load for each (c=64), alternating, ratios printed.
 *   npm run bench:peer            (BENCH_SECONDS=5 BENCH_ROUNDS=2; DIRECTUS_DIR reuses an install)
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServices } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import { freePort, load, type Result, startProcess, table } from './lib.ts';

const seconds = Number(process.env.BENCH_SECONDS ?? 5);
const rounds = Number(process.env.BENCH_ROUNDS ?? 2);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 64);
const directusDir = process.env.DIRECTUS_DIR ?? join(tmpdir(), 'gatehouse-bench-directus-11.3.5');
const work = mkdtempSync(join(tmpdir(), 'gatehouse-bench-peer-'));
const token = 'bench-static-token-0123456789abcdef';

function installDirectus(): void {
  if (existsSync(join(directusDir, 'node_modules', 'directus', 'cli.js'))) return;
  mkdirSync(directusDir, { recursive: true });
  writeFileSync(join(directusDir, 'package.json'), '{"name":"directus-peer","private":true}');
  process.stdout.write(`installing directus@11.3.5 into ${directusDir} (a few minutes, once)…\n`);
  execFileSync('npm', ['install', 'directus@11.3.5', '--no-audit', '--no-fund', '--loglevel=error'], {
    cwd: directusDir,
    stdio: 'inherit',
  });
}

async function startDirectus(port: number) {
  const env = {
    KEY: 'bench-key',
    SECRET: 'bench-secret-bench-secret-bench-secret',
    DB_CLIENT: 'sqlite3',
    DB_FILENAME: join(work, 'directus.db'),
    ADMIN_EMAIL: 'admin@example.com',
    ADMIN_PASSWORD: 'bench-password',
    ADMIN_TOKEN: token,
    HOST: '127.0.0.1',
    PORT: String(port),
    PUBLIC_URL: `http://127.0.0.1:${port}`,
    LOG_LEVEL: 'warn',
    PRESSURE_LIMITER_ENABLED: 'false',
    RATE_LIMITER_ENABLED: 'false',
    CACHE_ENABLED: 'false',
    TELEMETRY: 'false',
    EXTENSIONS_PATH: join(work, 'extensions'),
    STORAGE_LOCAL_ROOT: join(work, 'uploads'),
  };
  const cli = join(directusDir, 'node_modules', 'directus', 'cli.js');
  execFileSync(process.execPath, [cli, 'bootstrap'], { env: { ...process.env, ...env }, stdio: 'ignore' });
  const child = await startProcess(
    [cli, 'start'],
    env,
    async () => (await fetch(`http://127.0.0.1:${port}/server/ping`)).ok,
  );
  const auth = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  const created = await fetch(`http://127.0.0.1:${port}/collections`, {
    method: 'POST',
    headers: auth,
    body: JSON.stringify({
      collection: 'orders',
      schema: {},
      meta: {},
      fields: [
        {
          field: 'id',
          type: 'integer',
          meta: { hidden: true },
          schema: { is_primary_key: true, has_auto_increment: true },
        },
        { field: 'order_id', type: 'string' },
        { field: 'amount', type: 'integer' },
        { field: 'paid', type: 'boolean' },
      ],
    }),
  });
  if (!created.ok)
    throw new Error(`directus: creating the collection failed: ${created.status} ${await created.text()}`);
  return { child, auth };
}

async function startGatehouse(port: number) {
  const databaseUrl = `sqlite:${join(work, 'gatehouse.db')}`;
  const services = await createServices(loadConfig({ DATABASE_URL: databaseUrl, LOG_LEVEL: 'silent' }));
  await services.endpoints.create({
    slug: 'orders',
    name: 'Orders',
    schema: {
      type: 'object',
      properties: { order_id: { type: 'string' }, amount: { type: 'integer' }, paid: { type: 'boolean' } },
      required: ['order_id', 'amount'],
    },
  });
  const { key } = await services.keys.create({ name: 'bench', environment: 'test' });
  await services.close();
  const child = await startProcess(
    ['bin/gatehouse.js', 'serve'],
    { PORT: String(port), DATABASE_URL: databaseUrl, LOG_LEVEL: 'warn' },
    async () => (await fetch(`http://127.0.0.1:${port}/health`)).ok,
  );
  return { child, auth: { authorization: `Bearer ${key}`, 'content-type': 'application/json' } };
}

async function main(): Promise<void> {
  installDirectus();
  const [barePort, directusPort, gatePort] = [await freePort(), await freePort(), await freePort()];
  const bare = await startProcess(
    ['--import', 'tsx', 'bench/bare-server.ts'],
    { PORT: String(barePort) },
    async () => {
      await fetch(`http://127.0.0.1:${barePort}/`);
      return true;
    },
  );
  const directus = await startDirectus(directusPort);
  const gate = await startGatehouse(gatePort);
  const body = JSON.stringify({ order_id: 'ORD-1', amount: 4500, paid: true });

  const dUrl = `http://127.0.0.1:${directusPort}/items/orders`;
  const gUrl = `http://127.0.0.1:${gatePort}/api/v1/data/orders`;
  const dItem = (await (await fetch(dUrl, { method: 'POST', headers: directus.auth, body })).json()) as {
    data: { id: number };
  };
  const gItem = (await (await fetch(gUrl, { method: 'POST', headers: gate.auth, body })).json()) as {
    id: string;
  };

  const results: Result[] = [];
  const opts = { seconds, connections };
  for (let round = 0; round < rounds; round++) {
    results.push(
      await load('bare node:http 202', {
        url: `http://127.0.0.1:${barePort}/`,
        method: 'POST',
        body,
        ...opts,
        server: bare,
      }),
    );
    results.push(
      await load('directus create', {
        url: dUrl,
        method: 'POST',
        headers: directus.auth,
        body,
        ...opts,
        server: directus.child,
      }),
    );
    results.push(
      await load('gatehouse create', {
        url: gUrl,
        method: 'POST',
        headers: gate.auth,
        body,
        ...opts,
        server: gate.child,
      }),
    );
    results.push(
      await load('directus read', {
        url: `${dUrl}/${dItem.data.id}`,
        headers: directus.auth,
        ...opts,
        server: directus.child,
      }),
    );
    results.push(
      await load('gatehouse read', {
        url: `${gUrl}/${gItem.id}`,
        headers: gate.auth,
        ...opts,
        server: gate.child,
      }),
    );
  }
  for (const child of [bare, directus.child, gate.child]) child.kill('SIGTERM');

  const mean = (name: string) => {
    const runs = results.filter((r) => r.name === name);
    return runs.reduce((s, r) => s + r.rps, 0) / runs.length;
  };
  const baseline = mean('bare node:http 202');
  process.stdout.write(
    `\nGatehouse vs Directus 11.3.5 — SQLite, static token, c=${connections}, ${seconds}s x ${rounds}\n`,
  );
  process.stdout.write(`${table(results, baseline)}\n\n`);
  process.stdout.write(
    `create: gatehouse / directus = ${(mean('gatehouse create') / mean('directus create')).toFixed(1)}x (goal >= 50x)\n`,
  );
  process.stdout.write(
    `read:   gatehouse / directus = ${(mean('gatehouse read') / mean('directus read')).toFixed(1)}x (goal >= 50x)\n`,
  );
  process.stdout.write(
    `create / bare = ${(mean('gatehouse create') / baseline).toFixed(2)}, read / bare = ${(mean('gatehouse read') / baseline).toFixed(2)}\n`,
  );
}

await main();
