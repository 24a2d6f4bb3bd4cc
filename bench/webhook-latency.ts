/**
 * POST → callback latency (p50/p99) and deliveries per second to a local receiver, with
 * `gatehouse start` (API and worker in one process) on SQLite, or PostgreSQL with DATABASE_URL.
 *   npm run bench:webhooks        (BENCH_REQUESTS=2000 BENCH_CONCURRENCY=32)
 */

import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServices } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import { freePort, startProcess } from './lib.ts';

const total = Number(process.env.BENCH_REQUESTS ?? 2000);
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 32);
const dir = mkdtempSync(join(tmpdir(), 'gatehouse-bench-hooks-'));
const databaseUrl = process.env.DATABASE_URL ?? `sqlite:${join(dir, 'hooks.db')}`;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

async function main(): Promise<void> {
  const services = await createServices(loadConfig({ DATABASE_URL: databaseUrl, LOG_LEVEL: 'silent' }));
  await services.endpoints
    .create({ slug: 'orders', name: 'Orders', schema: { type: 'object' } })
    .catch(() => {});
  const { key } = await services.keys.create({ name: 'bench', environment: 'test' });
  await services.close();

  const sentAt = new Map<string, number>();
  /** Callbacks that arrived before their client had even read the 202. */
  const early = new Set<string>();
  const latencies: number[] = [];
  let lastArrival = 0;
  const receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const now = performance.now();
      const event = JSON.parse(Buffer.concat(chunks).toString()) as { data: { record_id: string } };
      const started = sentAt.get(event.data.record_id);
      if (started !== undefined) {
        latencies.push(now - started);
        sentAt.delete(event.data.record_id);
      } else {
        early.add(event.data.record_id);
      }
      lastArrival = now;
      res.end('ok');
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  const address = receiver.address();
  const hook = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/hook`;

  const port = await freePort();
  const server = await startProcess(
    ['bin/gatehouse.js', 'start'],
    {
      PORT: String(port),
      DATABASE_URL: databaseUrl,
      LOG_LEVEL: 'warn',
      GATEHOUSE_WEBHOOK_ALLOW_NETS: '127.0.0.0/8',
    },
    async () => (await fetch(`http://127.0.0.1:${port}/health`)).ok,
  );

  let issued = 0;
  const send = async () => {
    while (issued < total) {
      issued++;
      const res = await fetch(`http://127.0.0.1:${port}/api/v1/data/orders`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${key}`,
          'content-type': 'application/json',
          'x-webhook-callback': hook,
        },
        body: '{"order_id":"ORD-1","amount":4500}',
      });
      const { id } = (await res.json()) as { id: string };
      // Latency is measured from the moment the 202 arrived: "a callback within milliseconds of the 202".
      if (early.delete(id)) latencies.push(0);
      else sentAt.set(id, performance.now());
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, send));
  const deadline = Date.now() + 60_000;
  while (latencies.length < total && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  const elapsed = (lastArrival - started) / 1000;
  server.kill('SIGTERM');
  receiver.close();

  const sorted = [...latencies].sort((a, b) => a - b);
  process.stdout.write(
    `\nWebhook latency — ${databaseUrl.split(':')[0]}, ${total} writes with callbacks, ${concurrency} concurrent clients\n`,
  );
  process.stdout.write(
    `202 → callback received: p50 ${percentile(sorted, 50).toFixed(1)} ms, p99 ${percentile(sorted, 99).toFixed(1)} ms (${latencies.length}/${total} arrived)\n`,
  );
  process.stdout.write(`deliveries per second: ${(latencies.length / elapsed).toFixed(0)}\n`);
  rmSync(dir, { recursive: true, force: true });
}

await main();
