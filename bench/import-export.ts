/**
 * 1M-row round trip through the CLI: generate NDJSON, `gatehouse records import`, then
 * `gatehouse records export`, and check the export equals the input byte for byte.
 *   npm run bench:import        (IMPORT_ROWS=1000000)
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createWriteStream, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServices } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import { freePort, startProcess } from './lib.ts';

const rows = Number(process.env.IMPORT_ROWS ?? 1_000_000);
const dir = mkdtempSync(join(tmpdir(), 'gatehouse-import-'));
const databaseUrl = process.env.DATABASE_URL ?? `sqlite:${join(dir, 'import.db')}`;

async function main(): Promise<void> {
  const input = join(dir, 'in.ndjson');
  const out = createWriteStream(input);
  for (let i = 0; i < rows; i++) {
    const line = `${JSON.stringify({ sku: `SKU-${i}`, qty: i % 1000, price: (i % 997) / 10, ok: i % 2 === 0 })}\n`;
    if (!out.write(line)) await new Promise<void>((r) => out.once('drain', () => r()));
  }
  await new Promise<void>((r) => out.end(() => r()));

  const services = await createServices(loadConfig({ DATABASE_URL: databaseUrl, LOG_LEVEL: 'silent' }));
  const { token } = await services.owners.init({ email: 'bench@example.com', password: 'bench password' });
  await services.endpoints.create({
    slug: 'items',
    name: 'Items',
    schema: {
      type: 'object',
      properties: {
        sku: { type: 'string' },
        qty: { type: 'integer' },
        price: { type: 'number' },
        ok: { type: 'boolean' },
      },
    },
  });
  await services.close();
  const port = await freePort();
  const server = await startProcess(
    ['bin/gatehouse.js', 'serve'],
    { PORT: String(port), DATABASE_URL: databaseUrl, LOG_LEVEL: 'warn' },
    async () => (await fetch(`http://127.0.0.1:${port}/health`)).ok,
  );
  const env = {
    ...process.env,
    GATEHOUSE_URL: `http://127.0.0.1:${port}`,
    GATEHOUSE_TOKEN: token,
    GATEHOUSE_CLI_CREDENTIALS: '/nonexistent',
  };
  let started = Date.now();
  execFileSync(
    process.execPath,
    ['bin/gatehouse.js', 'records', 'import', 'items', input, '--json', '--batch', '5000'],
    { env, stdio: ['ignore', 'ignore', 'inherit'] },
  );
  const importSeconds = (Date.now() - started) / 1000;
  started = Date.now();
  const output = join(dir, 'out.ndjson');
  execFileSync('sh', ['-c', `node bin/gatehouse.js records export items > ${output}`], {
    env,
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const exportSeconds = (Date.now() - started) / 1000;
  server.kill('SIGTERM');
  const digest = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');
  const same = digest(input) === digest(output);
  process.stdout.write(
    `\nImport/export round trip — ${databaseUrl.split(':')[0]}, ${rows.toLocaleString()} rows (${(statSync(input).size / 1e6).toFixed(0)} MB NDJSON)\n`,
  );
  process.stdout.write(
    `import: ${importSeconds.toFixed(1)} s = ${Math.round(rows / importSeconds).toLocaleString()} rows/s\n`,
  );
  process.stdout.write(
    `export: ${exportSeconds.toFixed(1)} s = ${Math.round(rows / exportSeconds).toLocaleString()} rows/s\n`,
  );
  process.stdout.write(`round trip exact: ${same ? 'yes' : 'NO'}\n`);
  rmSync(dir, { recursive: true, force: true });
  if (!same) process.exitCode = 1;
}

await main();
