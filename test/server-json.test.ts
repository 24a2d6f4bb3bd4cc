import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createTestDatabase, type TestDatabase } from './helpers/database.ts';

interface Started {
  child: ChildProcess;
  /** The first line on stdout, parsed; the rest of stdout after it. */
  line: Record<string, unknown>;
  exited: Promise<{ code: number | null; stdout: string }>;
}

/** Where the spawned servers record themselves (server.json beside the CLI's credentials). */
const cliFolder = join(tmpdir(), `gatehouse-server-json-${process.pid}`);

/** Runs the real CLI with `--json` and waits for its first line on stdout. */
function startJson(args: string[], env: Record<string, string>): Promise<Started> {
  const child = spawn(process.execPath, ['bin/gatehouse.js', ...args, '--json'], {
    env: {
      ...process.env,
      GATEHOUSE_CLI_CREDENTIALS: join(cliFolder, 'cli.json'),
      LOG_LEVEL: 'info',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  let stdout = '';
  const exited = new Promise<{ code: number | null; stdout: string }>((resolve) =>
    child.once('exit', (code) => resolve({ code, stdout })),
  );
  return new Promise((resolve, reject) => {
    child.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const end = stdout.indexOf('\n');
      if (end >= 0) resolve({ child, line: JSON.parse(stdout.slice(0, end)), exited });
    });
    child.once('exit', () => reject(new Error(`exited before printing a line: ${stdout}`)));
  });
}

async function stop(started: Started): Promise<{ code: number | null; stdout: string }> {
  started.child.kill('SIGTERM');
  return started.exited;
}

/** `start`, `serve` and `worker` with `--json` (PRODUCT.md: every CLI command has `--json`). */
describe('--json on the commands that run a server', () => {
  let database: TestDatabase;
  before(async () => {
    database = await createTestDatabase('sqlite');
  });
  after(async () => {
    rmSync(cliFolder, { recursive: true, force: true });
    await database.drop();
  });

  test('serve --json prints one line once it serves, naming a URL that answers (PORT=0 too)', {
    timeout: 120_000,
  }, async () => {
    const started = await startJson(['serve'], { DATABASE_URL: database.url, PORT: '0' });
    const { data } = started.line as { data: Record<string, unknown> };
    assert.deepEqual(started.line, {
      success: true,
      data: { url: data.url, pid: started.child.pid, workers: 1, database: 'sqlite', webhook_worker: false },
    });
    assert.match(String(data.url), /^http:\/\/127\.0\.0\.1:[1-9]\d*$/);
    assert.equal((await fetch(`${data.url}/health`)).status, 200);
    // The logs stay on stderr: stdout holds that line alone.
    assert.deepEqual(await stop(started), { code: 0, stdout: `${JSON.stringify(started.line)}\n` });
  });

  test('start --workers 2 --json prints the line once both workers listen', {
    timeout: 120_000,
  }, async () => {
    const started = await startJson(['start', '--workers', '2'], { DATABASE_URL: database.url, PORT: '0' });
    const data = started.line.data as Record<string, unknown>;
    assert.equal(started.line.success, true);
    assert.deepEqual(
      { ...data, url: undefined },
      {
        url: undefined,
        pid: started.child.pid,
        workers: 2,
        database: 'sqlite',
        webhook_worker: true,
      },
    );
    assert.equal((await fetch(`${data.url}/ready`)).status, 200);
    assert.equal((await stop(started)).code, 0);
  });

  test('worker --json prints its line; a server that cannot start prints the error envelope', {
    timeout: 120_000,
  }, async () => {
    const worker = await startJson(['worker'], { DATABASE_URL: database.url });
    assert.deepEqual(worker.line, { success: true, data: { pid: worker.child.pid, database: 'sqlite' } });
    assert.equal((await stop(worker)).code, 0);

    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as { port: number }).port;
    try {
      const refused = await startJson(['serve'], { DATABASE_URL: database.url, PORT: String(port) });
      assert.deepEqual(refused.line, {
        success: false,
        error: `Cannot listen on 127.0.0.1:${port}: the address is in use (EADDRINUSE). Set PORT (and HOST) to another.`,
        code: 'config_error',
        details: [],
      });
      assert.equal((await refused.exited).code, 1);
      // Two workers failing alike: one line still, said by the primary.
      const cluster = await startJson(['serve', '--workers', '2'], {
        DATABASE_URL: database.url,
        PORT: String(port),
      });
      assert.deepEqual(cluster.line, refused.line);
      const end = await cluster.exited;
      assert.equal(end.code, 1);
      assert.equal(end.stdout, `${JSON.stringify(refused.line)}\n`);
    } finally {
      taken.close();
    }
  });
});
