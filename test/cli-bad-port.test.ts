import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { runGatehouse } from './helpers/process.ts';

/**
 * Ports such as 6000 (X11) and 6665-6669 (IRC) are the Fetch standard's "bad ports": Node's fetch,
 * which the CLI uses, refuses to connect to them, as browsers do. A server started there ran, but
 * every CLI command said `Cannot reach … (bad port); is "gatehouse start" running?`.
 */
describe('a server on a port fetch refuses', () => {
  const folder = mkdtempSync(join(tmpdir(), 'gatehouse-bad-port-'));
  after(() => rmSync(folder, { recursive: true, force: true }));

  test('the CLI says fetch refuses the port and to set another PORT, not "is it running?"', async () => {
    const env = {
      GATEHOUSE_URL: 'http://127.0.0.1:6000',
      GATEHOUSE_TOKEN: 'gm_x',
      GATEHOUSE_CLI_CREDENTIALS: '/nonexistent',
    };
    const plain = await runGatehouse(['endpoints', 'list'], env);
    assert.equal(plain.code, 1);
    assert.equal(plain.stdout, '');
    assert.match(plain.stderr, /fetch refuses to connect to port 6000, as browsers do/);
    assert.match(plain.stderr, /run Gatehouse on another PORT \(cli_unreachable\)/);
    assert.doesNotMatch(plain.stderr, /is "gatehouse start" running/);
    const json = await runGatehouse(['keys', 'list', '--json'], {
      ...env,
      GATEHOUSE_URL: 'http://127.0.0.1:6667',
    });
    assert.equal(json.code, 1);
    const envelope = JSON.parse(json.stdout);
    assert.equal(envelope.code, 'cli_unreachable');
    assert.match(envelope.error, /port 6667/);
  });

  test('a server started on such a port warns that browsers and the CLI cannot reach it', async (t) => {
    const free = await new Promise<boolean>((resolve) => {
      const probe = createServer()
        .once('error', () => resolve(false))
        .listen(6000, '127.0.0.1', () => probe.close(() => resolve(true)));
    });
    if (!free) return t.skip('port 6000 is taken on this machine');
    const child = spawn(process.execPath, ['bin/gatehouse.js', 'start'], {
      env: {
        ...process.env,
        HOST: '127.0.0.1',
        PORT: '6000',
        DATABASE_URL: `sqlite:${join(folder, 'gatehouse.db')}`,
        GATEHOUSE_CLI_CREDENTIALS: join(folder, 'cli.json'),
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let log = '';
    try {
      await new Promise<void>((resolve, reject) => {
        child.stderr.on('data', (chunk: Buffer) => {
          log += chunk.toString();
          if (log.includes('Gatehouse listening')) resolve();
        });
        child.once('exit', (code) => reject(new Error(`start exited (${code}): ${log}`)));
      });
    } finally {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    const warning = log
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as { level: number; msg: string })
      .find((line) => line.msg.includes('refuse to connect'));
    assert.ok(warning, log);
    assert.equal(warning.level, 40);
    assert.match(warning.msg, /Port 6000 is one browsers and fetch refuse to connect to/);
    assert.match(warning.msg, /set another PORT/);
  });
});
