import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { dirname, join } from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';
import { freePort } from '../bench/lib.ts';
import { createServices } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import { newId } from '../src/ids.ts';
import { createTestDatabase, type TestDatabase } from './helpers/database.ts';
import { spawnGatehouse, waitHealthy } from './helpers/process.ts';
import { until } from './helpers/until.ts';

/**
 * Sends `text` on a new connection and returns everything the server wrote until it closed the
 * connection (or, when it keeps it open, what it wrote in 5 s).
 */
function raw(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(text));
    let answer = '';
    socket.on('data', (chunk) => {
      answer += chunk.toString();
    });
    socket.setTimeout(5_000, () => {
      socket.destroy();
      resolve(answer);
    });
    socket.on('end', () => resolve(answer));
    socket.on('error', reject);
  });
}

/** Waits until the server no longer takes connections (its listening socket closed). */
async function listeningStopped(port: number): Promise<void> {
  const outcome = await until(
    () =>
      raw(port, 'GET /health HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n').then(
        () => 'served',
        (e: Error & { code?: string }) => e.code ?? '',
      ),
    (code) => code === 'ECONNREFUSED',
  );
  assert.equal(outcome, 'ECONNREFUSED');
}

const exited = (child: ChildProcess) =>
  new Promise<number | null>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve(child.exitCode);
    else child.once('exit', (code) => resolve(code));
  });

/**
 * SIGTERM with GATEHOUSE_SHUTDOWN_DELAY_MS (docs/DEPLOY.md, Shutdown): the server goes on serving
 * while `/ready` tells the load balancer to take it out, each answer closing its connection; a
 * second SIGTERM ends the wait. A request that reaches a server already closing gets the 503
 * envelope, and the error log stays for errors.
 */
describe('stopping an API server', () => {
  let database: TestDatabase;
  let key: string;
  let child: ChildProcess | undefined;

  before(async () => {
    database = await createTestDatabase('sqlite');
    const services = await createServices(loadConfig({ DATABASE_URL: database.url, LOG_LEVEL: 'silent' }));
    await services.endpoints.create({ slug: 'orders', name: 'Orders', schema: { type: 'object' } });
    key = (await services.keys.create({ name: 'k', environment: 'test' })).key;
    await services.close();
  });

  afterEach(async () => {
    if (child && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited(child);
    }
  });

  after(() => database.drop());

  const create = (port: number, n: number) =>
    raw(
      port,
      `POST /api/v1/data/orders HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer ${key}\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${`{"n":${n}}`.length}\r\n\r\n{"n":${n}}`,
    );

  /** Answers on the port while the server drains: /ready refuses, the data API still serves. */
  async function drainingAnswers(port: number, n: number): Promise<void> {
    const ready = await until(
      () => raw(port, 'GET /ready HTTP/1.1\r\nHost: a\r\n\r\n').catch((e: Error) => e.message),
      (text) => text.startsWith('HTTP/1.1 503'),
    );
    assert.match(ready, /^HTTP\/1\.1 503 /);
    assert.match(ready, /\r\nconnection: close\r\n/i);
    assert.match(ready, /\{"status":"draining","checks":\{\}\}$/);
    // Liveness stays good, and partners are still served (each answer closing its connection).
    const health = await raw(port, 'GET /health HTTP/1.1\r\nHost: a\r\n\r\n');
    assert.match(health, /^HTTP\/1\.1 200 /);
    const created = await create(port, n);
    assert.match(created, /^HTTP\/1\.1 202 /);
    assert.match(created, /\r\nconnection: close\r\n/i);
    const id = /"id":"(rec_\w+)"/.exec(created)?.[1];
    const read = await raw(
      port,
      `GET /api/v1/data/orders/${id} HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer ${key}\r\n\r\n`,
    );
    assert.match(read, /^HTTP\/1\.1 200 /);
    assert.match(read, new RegExp(`"n":${n}`));
  }

  /** What the database holds once the server has gone: nothing it acknowledged is lost. */
  async function storedNumbers(): Promise<number[]> {
    const services = await createServices(loadConfig({ DATABASE_URL: database.url, LOG_LEVEL: 'silent' }));
    try {
      const rows = await services.database.db.selectFrom('records').select('data').execute();
      return rows.map((row) => (JSON.parse(row.data) as { n: number }).n).sort((a, b) => a - b);
    } finally {
      await services.close();
    }
  }

  /** The pids of a cluster primary's workers. */
  async function workersOf(primary: ChildProcess): Promise<number[]> {
    const text = await readFile(`/proc/${primary.pid}/task/${primary.pid}/children`, 'utf8');
    return text.trim().split(' ').map(Number);
  }

  /** `gatehouse serve` on `port`, without a shutdown delay, its log on a pipe. */
  function spawnServe(port: number, logLevel: string, url = database.url): ChildProcess {
    const server = spawn(process.execPath, ['bin/gatehouse.js', 'serve'], {
      env: {
        ...process.env,
        DATABASE_URL: url,
        PORT: String(port),
        LOG_LEVEL: logLevel,
        // Its server.json goes in the test's database folder, not the checkout's ./data.
        GATEHOUSE_CLI_CREDENTIALS: join(dirname(url.slice('sqlite:'.length)), 'cli.json'),
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    child = server;
    return server;
  }

  /** Starts the server with a long shutdown delay and waits until it serves. */
  async function startServing(args: string[]): Promise<{ port: number; server: ChildProcess }> {
    const port = await freePort();
    const server = spawnGatehouse(args, {
      DATABASE_URL: database.url,
      PORT: String(port),
      LOG_LEVEL: 'warn',
      GATEHOUSE_SHUTDOWN_DELAY_MS: '600000',
    });
    child = server;
    await waitHealthy(port);
    return { port, server };
  }

  /** Starts the server with a long shutdown delay, and sends it SIGTERM once it serves. */
  async function startDraining(args: string[]): Promise<{ port: number; server: ChildProcess }> {
    const started = await startServing(args);
    started.server.kill('SIGTERM');
    return started;
  }

  test('serve: after SIGTERM it serves on with /ready at 503 until the delay ends; SIGTERM again changes nothing, Ctrl-C ends it', {
    timeout: 120_000,
  }, async () => {
    const { port, server } = await startDraining(['serve']);
    await drainingAnswers(port, 1);
    // A supervisor's repeat (or npm passing it on) does not cut the delay short.
    server.kill('SIGTERM');
    await drainingAnswers(port, 2);
    server.kill('SIGINT');
    assert.equal(await exited(server), 0);
    assert.deepEqual(await storedNumbers(), [1, 2]);
  });

  /** What `serve` says on its first SIGTERM, with stdin a terminal or not. */
  async function firstSignalLine(terminal: boolean): Promise<string> {
    const port = await freePort();
    const env = {
      ...process.env,
      DATABASE_URL: database.url,
      PORT: String(port),
      LOG_LEVEL: 'warn',
      GATEHOUSE_SHUTDOWN_DELAY_MS: '600000',
    };
    const command = [process.execPath, 'bin/gatehouse.js', 'serve'];
    // script(1) runs it on a pseudo-terminal, as a shell would; its output comes out of script.
    const server = terminal
      ? spawn('script', ['-qfec', `exec ${command.join(' ')}`, '/dev/null'], {
          env,
          stdio: ['pipe', 'pipe', 'pipe'],
        })
      : spawn(command[0] as string, command.slice(1), { env, stdio: ['pipe', 'pipe', 'pipe'] });
    child = server;
    let output = '';
    server.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    server.stderr?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    await waitHealthy(port);
    const pid = terminal ? (await workersOf(server))[0] : server.pid;
    assert.ok(pid);
    process.kill(pid, 'SIGTERM');
    const line = await until(
      async () => /SIGTERM: [^\r\n]*/.exec(output)?.[0] ?? '',
      (text) => text.endsWith('exiting'),
    );
    process.kill(pid, 'SIGKILL');
    await exited(server);
    return line;
  }

  test('serve: the first SIGTERM offers Ctrl-C to skip the delay only in a terminal, not under a supervisor', {
    timeout: 120_000,
  }, async () => {
    assert.equal(
      await firstSignalLine(false),
      'SIGTERM: serving 600000 ms more with /ready answering 503, then finishing in-flight requests and exiting',
    );
    assert.equal(
      await firstSignalLine(true),
      'SIGTERM: serving 600000 ms more with /ready answering 503 (Ctrl-C to skip that), then finishing in-flight requests and exiting',
    );
  });

  test('start --workers 2: SIGTERM to every process (systemd) drains them all for the delay; Ctrl-C ends it', {
    timeout: 120_000,
  }, async () => {
    const { port, server } = await startDraining(['start', '--workers', '2']);
    // systemd's default KillMode signals each process of the unit: the workers directly too.
    for (const pid of await workersOf(server)) process.kill(pid, 'SIGTERM');
    server.kill('SIGTERM');
    // Each on a new connection: both workers answer some of them.
    for (let i = 3; i < 7; i++) await drainingAnswers(port, i);
    server.kill('SIGINT');
    assert.equal(await exited(server), 0);
    assert.deepEqual(await storedNumbers(), [1, 2, 3, 4, 5, 6]);
  });

  test('serve: a third Ctrl-C quits at once, without waiting for a request still under way', {
    timeout: 120_000,
  }, async () => {
    const { port, server } = await startDraining(['serve']);
    await drainingAnswers(port, 7);
    // A request whose headers never end holds the drain (up to the request timeout).
    const stuck = connect(port, '127.0.0.1');
    stuck.on('error', () => {});
    await new Promise((resolve) => stuck.once('connect', resolve));
    stuck.write('GET /health HTTP/1.1\r\nHost: a\r\n');
    server.kill('SIGINT');
    // The delay is over: the server no longer listens, and waits for that request.
    await listeningStopped(port);
    assert.equal(server.exitCode, null, 'still draining');
    // A person's next Ctrl-C, not the echo of the first that npm passes on (within 100 ms).
    await new Promise((resolve) => setTimeout(resolve, 300));
    server.kill('SIGINT');
    assert.equal(await exited(server), 130);
    stuck.destroy();
  });

  // `npm start` execs the server (so npm's SIGTERM reaches it): a terminal's Ctrl-C then reaches
  // it twice, from the terminal and passed on by npm. It took that for a second Ctrl-C and ended
  // the delay at once.
  test('serve: one Ctrl-C arriving twice at once (terminal and npm) starts the delay; the next ends it', {
    timeout: 120_000,
  }, async () => {
    const { port, server } = await startServing(['serve']);
    server.kill('SIGINT');
    // npm's comes a moment later (sent back to back, the system may merge the two into one).
    await new Promise((resolve) => setTimeout(resolve, 30));
    server.kill('SIGINT');
    await drainingAnswers(port, 8);
    await new Promise((resolve) => setTimeout(resolve, 300));
    server.kill('SIGINT');
    assert.equal(await exited(server), 0);
  });

  test('start --workers 2: SIGTERM while the workers still load stops them all', {
    timeout: 120_000,
  }, async () => {
    const port = await freePort();
    const primary = spawnGatehouse(['start', '--workers', '2'], {
      DATABASE_URL: database.url,
      PORT: String(port),
      LOG_LEVEL: 'warn',
    });
    child = primary;
    // Forked: the primary's handlers are set; the workers need a second or more to load.
    const children = () =>
      readFile(`/proc/${primary.pid}/task/${primary.pid}/children`, 'utf8').catch(() => '');
    const forked = await until(children, (text) => text.trim().split(' ').length === 2, 30_000);
    assert.equal(forked.trim().split(' ').length, 2);
    primary.kill('SIGTERM');
    assert.equal(await exited(primary), 0);
    for (const pid of forked.trim().split(' ')) {
      assert.throws(() => process.kill(Number(pid), 0), { code: 'ESRCH' }, `worker ${pid} still runs`);
    }
  });

  test('a request that arrives while the server closes gets the 503 envelope, not an error in the log', {
    timeout: 120_000,
  }, async () => {
    const port = await freePort();
    const server = spawnServe(port, 'info');
    let logs = '';
    server.stderr?.on('data', (chunk: Buffer) => {
      logs += chunk.toString();
    });
    await waitHealthy(port);
    // A request under way (its headers not all sent) keeps its connection while the server closes.
    const socket = connect(port, '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    let answer = '';
    socket.on('data', (chunk) => {
      answer += chunk.toString();
    });
    const closed = new Promise((resolve) => socket.once('end', resolve));
    socket.write(`GET /api/v1/data/orders HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer ${key}\r\n`);
    server.kill('SIGTERM');
    // Closing: the server no longer takes connections.
    await listeningStopped(port);
    socket.end('\r\n');
    await closed;
    assert.match(answer, /^HTTP\/1\.1 503 /);
    assert.match(answer, /\r\nretry-after: 1\r\n/i);
    assert.match(answer, /\r\nconnection: close\r\n/i);
    assert.match(answer, /"code":"service_unavailable"/);
    assert.match(answer, /"request_id":"req_\w+"/);
    assert.equal(await exited(server), 0);
    assert.match(logs, /finishing in-flight requests/);
    assert.doesNotMatch(logs, /"level":50/);
  });
  test('a request under way at SIGTERM is answered with Connection: close, so the server exits without waiting out the keep-alive', {
    timeout: 120_000,
  }, async () => {
    const port = await freePort();
    const server = spawnServe(port, 'warn');
    server.stderr?.resume();
    await waitHealthy(port);
    // Its headers all sent, its body not: the server has taken the request (a kept-alive one).
    const body = '{"n":77}';
    const socket = connect(port, '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    let answer = '';
    const answered = new Promise<void>((resolve) => {
      socket.on('data', (chunk) => {
        answer += chunk.toString();
        if (answer.endsWith('}')) resolve();
      });
    });
    const closed = new Promise((resolve) => socket.once('close', resolve));
    socket.write(
      `POST /api/v1/data/orders HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer ${key}\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 3)}`,
    );
    await until(
      () => raw(port, 'GET /health HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n'),
      (text) => text.startsWith('HTTP/1.1 200'),
    );
    server.kill('SIGTERM');
    await listeningStopped(port);
    socket.write(body.slice(3));
    await answered;
    assert.match(answer, /^HTTP\/1\.1 202 /, `the request under way is served: ${answer}`);
    assert.match(answer, /\r\nconnection: close\r\n/i, `its answer closes the connection: ${answer}`);
    await closed;
    assert.equal(await exited(server), 0, 'the server exits cleanly once the answer is sent');
    assert.ok((await storedNumbers()).includes(77), 'the answered write is kept');
  });
  test('an export streaming at SIGTERM closes its connection when it ends, so the server exits without waiting out the keep-alive', {
    timeout: 120_000,
  }, async () => {
    // Its own database: 20 000 records of a kilobyte, far more than the socket buffers hold.
    const exports = await createTestDatabase('sqlite');
    try {
      const services = await createServices(loadConfig({ DATABASE_URL: exports.url, LOG_LEVEL: 'silent' }));
      let token: string;
      try {
        const endpoint = await services.endpoints.create({
          slug: 'big',
          name: 'Big',
          schema: { type: 'object' },
        });
        token = (
          await services.owners.init({ email: 'owner@example.com', password: 'correct horse battery' })
        ).token;
        const data = JSON.stringify({ s: 'x'.repeat(1000) });
        await services.writer.writeAll(
          Array.from({ length: 20_000 }, () => ({
            operation: 'create' as const,
            endpointId: endpoint.id,
            slug: 'big',
            environment: 'test' as const,
            recordId: newId('record'),
            data,
            requestId: newId('request'),
            keyId: null,
            source: 'import' as const,
            callback: null,
          })),
        );
      } finally {
        await services.close();
      }
      const port = await freePort();
      const server = spawnServe(port, 'warn', exports.url);
      server.stderr?.resume();
      await waitHealthy(port);
      const socket = connect(port, '127.0.0.1');
      socket.on('error', () => {});
      await new Promise((resolve) => socket.once('connect', resolve));
      let received = '';
      let sawHeaders: () => void = () => {};
      let sawEnd: () => void = () => {};
      const headers = new Promise<void>((resolve) => {
        sawHeaders = resolve;
      });
      const ended = new Promise<void>((resolve) => {
        sawEnd = resolve;
      });
      socket.on('data', (chunk) => {
        received += chunk.toString();
        if (received.includes('\r\n\r\n')) sawHeaders();
        if (received.endsWith('\r\n0\r\n\r\n')) sawEnd();
      });
      const closed = new Promise((resolve) => socket.once('close', resolve));
      socket.write(
        `GET /admin/v1/endpoints/big/export?environment=test HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer ${token}\r\n\r\n`,
      );
      // Its headers sent (kept alive), its body held back by a client that reads no further yet.
      await headers;
      socket.pause();
      assert.match(
        received,
        /^HTTP\/1\.1 200 [\s\S]*\r\nconnection: keep-alive\r\n/i,
        'the export streams, kept alive',
      );
      server.kill('SIGTERM');
      await listeningStopped(port);
      socket.resume();
      await ended;
      const exported = received.length;
      // Once the export has ended, the server is done with the connection: a request sent on it
      // gets no answer (on a connection kept open, the closing server would answer it 503).
      socket.write('GET /health HTTP/1.1\r\nHost: a\r\n\r\n');
      await closed;
      assert.equal(received.slice(exported), '', 'nothing is answered after the export on its connection');
      assert.equal(await exited(server), 0, 'the server exits cleanly');
    } finally {
      await exports.drop();
    }
  });
});
