/**
 * Large data: fills an endpoint with N records (default 10 M; LARGE_N to change), then measures
 * GET by id and a filtered list page (p99, c=64) at 10 k and at N, and the database size per
 * record. SQLite by default; DATABASE_URL=postgres://… for PostgreSQL.
 *   npm run bench:large            (LARGE_N=1000000 for a quicker run)
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { createServices } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import { newId } from '../src/ids.ts';
import { freePort, startProcess } from './lib.ts';

const target = Number(process.env.LARGE_N ?? 10_000_000);
const seconds = Number(process.env.BENCH_SECONDS ?? 5);
const dir = mkdtempSync(join(tmpdir(), 'gatehouse-large-'));
const databaseUrl = process.env.DATABASE_URL ?? `sqlite:${join(dir, 'large.db')}`;
const colors = ['red', 'green', 'blue', 'amber', 'violet'];

async function fill(from: number, to: number, endpointId: string, sampleIds: string[]): Promise<void> {
  const services = await createServices(loadConfig({ DATABASE_URL: databaseUrl, LOG_LEVEL: 'silent' }));
  const { db } = services.database;
  const batch = 500;
  const started = Date.now();
  for (let n = from; n < to; n += batch * 20) {
    await db.transaction().execute(async (trx) => {
      for (let b = n; b < Math.min(to, n + batch * 20); b += batch) {
        const now = new Date().toISOString();
        const rows = [];
        for (let i = b; i < Math.min(to, b + batch); i++) {
          const id = newId('record');
          if (i % Math.max(1, Math.floor(to / 1000)) === 0) sampleIds.push(id);
          rows.push({
            id,
            endpoint_id: endpointId,
            environment: 'test',
            data: JSON.stringify({
              order_id: `ORD-${i}`,
              amount: i % 100_000,
              color: colors[i % colors.length],
              paid: i % 2 === 0,
            }),
            version: 1,
            created_at: now,
            updated_at: now,
          });
        }
        await trx.insertInto('records').values(rows).execute();
      }
    });
    if ((n - from) % 1_000_000 < batch * 20) {
      process.stdout.write(
        `  ${n.toLocaleString()} records (${Math.round((n - from) / ((Date.now() - started) / 1000 + 1e-9))}/s)\n`,
      );
    }
  }
  await services.close();
}

async function measure(
  port: number,
  key: string,
  paths: string[],
  duration = seconds,
): Promise<{ p50: number; p99: number; rps: number; bad: number }> {
  if (duration === seconds) await measure(port, key, paths, 1); // warm-up: JIT, caches, page cache
  let i = 0;
  const result = await autocannon({
    url: `http://127.0.0.1:${port}`,
    connections: 64,
    duration,
    headers: { authorization: `Bearer ${key}` },
    requests: [
      {
        setupRequest: (req) => {
          req.path = paths[i++ % paths.length] ?? '/health';
          return req;
        },
      },
    ],
  });
  return {
    p50: result.latency.p50,
    p99: result.latency.p99,
    rps: result.requests.average,
    bad: result.non2xx + result.errors,
  };
}

async function main(): Promise<void> {
  const services = await createServices(loadConfig({ DATABASE_URL: databaseUrl, LOG_LEVEL: 'silent' }));
  const endpoint = await services.endpoints.create({
    slug: 'orders',
    name: 'Orders',
    schema: { type: 'object', properties: { color: { type: 'string' }, amount: { type: 'integer' } } },
  });
  const { key } = await services.keys.create({ name: 'large', environment: 'test' });
  await services.close();

  const port = await freePort();
  const rows: string[] = [];
  let filled = 0;
  for (const size of [10_000, target]) {
    const sample: string[] = [];
    process.stdout.write(`filling to ${size.toLocaleString()}…\n`);
    await fill(filled, size, endpoint.id, sample);
    filled = size;
    const server = await startProcess(
      ['bin/gatehouse.js', 'serve'],
      { PORT: String(port), DATABASE_URL: databaseUrl, LOG_LEVEL: 'warn' },
      async () => (await fetch(`http://127.0.0.1:${port}/health`)).ok,
    );
    const byId = await measure(
      port,
      key,
      sample.map((id) => `/api/v1/data/orders/${id}`),
    );
    const list = await measure(
      port,
      key,
      colors.map((c) => `/api/v1/data/orders?limit=25&filter[color]=${c}`),
    );
    // One server per SQLite file: the next one starts once this one has exited.
    const exited = new Promise((r) => server.once('exit', r));
    server.kill('SIGTERM');
    await exited;
    rows.push(
      `${size.toLocaleString().padStart(12)}  GET by id p50 ${byId.p50} ms p99 ${byId.p99} ms (${Math.round(byId.rps)}/s, bad ${byId.bad})  ` +
        `filtered list p50 ${list.p50} ms p99 ${list.p99} ms (${Math.round(list.rps)}/s, bad ${list.bad})`,
    );
  }
  if (databaseUrl.startsWith('sqlite:')) {
    const bytes = statSync(databaseUrl.slice(7)).size;
    rows.push(
      `database file ${(bytes / 1e9).toFixed(2)} GB = ${Math.round(bytes / target)} bytes per record`,
    );
  }
  process.stdout.write(
    `\nLarge data — ${databaseUrl.split(':')[0]}, c=64, ${seconds}s each\n${rows.join('\n')}\n`,
  );
  rmSync(dir, { recursive: true, force: true });
}

await main();
