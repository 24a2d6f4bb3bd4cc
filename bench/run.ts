/**
 * One run, alternating: bare node:http (the ceiling), Gatehouse POST create, GET by id and PUT
 * (replacing one record, over and over) on SQLite, each for a few seconds at c=64. Prints req/s, p99 and each ratio to the bare server.
 *   npm run bench            (BENCH_SECONDS=5 BENCH_ROUNDS=2 BENCH_CONNECTIONS=64 by default)
 *   DATABASE_URL=postgres://… npm run bench   for PostgreSQL-mode figures
 *   BENCH_WORKERS=2 npm run bench             for `serve --workers 2`
 *   BENCH_FAST_PATH_OFF=1 npm run bench       also a second server with GATEHOUSE_FAST_PATH=false
 *   BENCH_COMMAND=start npm run bench         `gatehouse start` (API and webhook worker in one
 *                                             process, the default) instead of `serve` (API only)
 *   BENCH_IDEMPOTENT=1 npm run bench          also POST create with a new Idempotency-Key on each
 *                                             request, as @gatehouse/client sends its writes
 *   BENCH_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof' npm run bench   Node options for the
 *                                             Gatehouse server (a profile is written at its exit)
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServices } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import { freePort, load, type Result, startProcess, table } from './lib.ts';

const seconds = Number(process.env.BENCH_SECONDS ?? 5);
const rounds = Number(process.env.BENCH_ROUNDS ?? 2);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 64);
const workers = Number(process.env.BENCH_WORKERS ?? 1);
const compareSlowPath = process.env.BENCH_FAST_PATH_OFF === '1';
const idempotent = process.env.BENCH_IDEMPOTENT === '1';
const command = process.env.BENCH_COMMAND ?? 'serve';
/** Node options for the Gatehouse server, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` (written at its exit). */
const nodeArgs = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
if (command !== 'serve' && command !== 'start')
  throw new Error(`BENCH_COMMAND must be serve or start, got ${command}`);

const dir = mkdtempSync(join(tmpdir(), 'gatehouse-bench-'));
const databaseUrl = process.env.DATABASE_URL ?? `sqlite:${join(dir, 'bench.db')}`;

// One server per SQLite file (infra/db/instance-lock.ts): the fast-path-off server gets its own.
const slowDatabaseUrl = databaseUrl.startsWith('sqlite:')
  ? `sqlite:${join(dir, 'bench-slow.db')}`
  : databaseUrl;

async function setUp(url: string): Promise<{ key: string }> {
  const services = await createServices(loadConfig({ DATABASE_URL: url, LOG_LEVEL: 'silent' }));
  try {
    await services.endpoints
      .create({
        slug: 'orders',
        name: 'Orders',
        schema: {
          type: 'object',
          properties: {
            order_id: { type: 'string' },
            amount: { type: 'integer' },
            paid: { type: 'boolean' },
          },
          required: ['order_id', 'amount'],
        },
      })
      .catch(() => {});
    const key = await services.keys.create({ name: 'bench', environment: 'test' });
    return { key: key.key };
  } finally {
    await services.close();
  }
}

async function main(): Promise<void> {
  const { key } = await setUp(databaseUrl);
  const barePort = await freePort();
  const gatePort = await freePort();
  const bare = await startProcess(
    ['--import', 'tsx', 'bench/bare-server.ts'],
    { PORT: String(barePort) },
    async () => (await fetch(`http://127.0.0.1:${barePort}/`)).ok || true,
  );
  const gate = await startProcess(
    [...nodeArgs, 'bin/gatehouse.js', command, '--workers', String(workers)],
    { PORT: String(gatePort), DATABASE_URL: databaseUrl, LOG_LEVEL: 'warn' },
    async () => (await fetch(`http://127.0.0.1:${gatePort}/health`)).ok,
  );
  const slowPort = await freePort();
  const slowKey =
    compareSlowPath && slowDatabaseUrl !== databaseUrl ? (await setUp(slowDatabaseUrl)).key : key;
  const slow = compareSlowPath
    ? await startProcess(
        ['bin/gatehouse.js', command, '--workers', String(workers)],
        {
          PORT: String(slowPort),
          DATABASE_URL: slowDatabaseUrl,
          LOG_LEVEL: 'warn',
          GATEHOUSE_FAST_PATH: 'false',
        },
        async () => (await fetch(`http://127.0.0.1:${slowPort}/health`)).ok,
      )
    : undefined;
  const slowBase = `http://127.0.0.1:${slowPort}/api/v1/data/orders`;
  const base = `http://127.0.0.1:${gatePort}/api/v1/data/orders`;
  const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
  const body = JSON.stringify({ order_id: 'ORD-1', amount: 4500, paid: true });
  const created = await fetch(base, { method: 'POST', headers, body });
  const { id } = (await created.json()) as { id: string };
  const slowHeaders = { ...headers, authorization: `Bearer ${slowKey}` };
  const slowId = slow
    ? (
        (await (await fetch(slowBase, { method: 'POST', headers: slowHeaders, body })).json()) as {
          id: string;
        }
      ).id
    : id;

  // Warm-up: JIT, caches, statement cache.
  await load('warm-up', { url: base, method: 'POST', headers, body, seconds: 1, connections });
  await load('warm-up', { url: `${base}/${id}`, headers, seconds: 1, connections });
  if (slow) {
    await load('warm-up', {
      url: slowBase,
      method: 'POST',
      headers: slowHeaders,
      body,
      seconds: 1,
      connections,
    });
    await load('warm-up', { url: `${slowBase}/${slowId}`, headers: slowHeaders, seconds: 1, connections });
  }

  // Server CPU per request is read from /proc for one process; a cluster's workers are others.
  const measured = (child: typeof gate | undefined) => (workers === 1 ? child : undefined);
  const results: Result[] = [];
  for (let round = 0; round < rounds; round++) {
    results.push(
      await load('bare node:http 202', {
        url: `http://127.0.0.1:${barePort}/`,
        method: 'POST',
        body,
        seconds,
        connections,
        server: bare,
      }),
    );
    results.push(
      await load('gatehouse POST create', {
        url: base,
        method: 'POST',
        headers,
        body,
        seconds,
        connections,
        server: measured(gate),
      }),
    );
    results.push(
      await load('gatehouse GET by id', {
        url: `${base}/${id}`,
        headers,
        seconds,
        connections,
        server: measured(gate),
      }),
    );
    results.push(
      await load('gatehouse PUT replace', {
        url: `${base}/${id}`,
        method: 'PUT',
        headers,
        body,
        seconds,
        connections,
        server: measured(gate),
      }),
    );
    if (idempotent) {
      results.push(
        await load('gatehouse POST + Idem.-Key', {
          url: base,
          method: 'POST',
          headers,
          body,
          seconds,
          connections,
          server: measured(gate),
          eachRequest: () => ({ 'idempotency-key': randomUUID() }),
        }),
      );
    }
    if (slow) {
      results.push(
        await load('  fast path off: POST', {
          url: slowBase,
          method: 'POST',
          headers: slowHeaders,
          body,
          seconds,
          connections,
          server: measured(slow),
        }),
      );
      results.push(
        await load('  fast path off: GET', {
          url: `${slowBase}/${slowId}`,
          headers: slowHeaders,
          seconds,
          connections,
          server: measured(slow),
        }),
      );
    }
  }
  bare.kill();
  slow?.kill('SIGTERM');
  gate.kill('SIGTERM');

  const bareRuns = results.filter((r) => r.name.startsWith('bare'));
  const baseline = bareRuns.reduce((s, r) => s + r.rps, 0) / bareRuns.length;
  const mean = (name: string) => {
    const runs = results.filter((r) => r.name === name);
    return runs.reduce((s, r) => s + r.rps, 0) / runs.length;
  };
  process.stdout.write(
    `\nGatehouse bench — ${databaseUrl.split(':')[0]}, gatehouse ${command}, c=${connections}, ${seconds}s x ${rounds} rounds\n`,
  );
  process.stdout.write(`${table(results, baseline)}\n\n`);
  const create = mean('gatehouse POST create') / baseline;
  const get = mean('gatehouse GET by id') / baseline;
  process.stdout.write(`create / bare = ${create.toFixed(2)} (goal >= 0.40)\n`);
  process.stdout.write(`get    / bare = ${get.toFixed(2)} (goal >= 0.60)\n`);
  const replace = mean('gatehouse PUT replace') / baseline;
  process.stdout.write(`put    / bare = ${replace.toFixed(2)}\n`);
  if (idempotent) {
    const keyed = mean('gatehouse POST + Idem.-Key') / baseline;
    process.stdout.write(`create with Idempotency-Key / bare = ${keyed.toFixed(2)}\n`);
  }
  const bad = results.reduce((s, r) => s + r.non2xx + r.errors, 0);
  process.stdout.write(`non-2xx + errors: ${bad}\n`);
  await new Promise((r) => setTimeout(r, 500));
  rmSync(dir, { recursive: true, force: true });
}

await main();
