import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { TLSSocket } from 'node:tls';
import pg from 'pg';
import { databaseKinds, postgresAdminUrl } from './helpers/database.ts';
import { redisUrl } from './helpers/limits-cluster.ts';
import { runGatehouse } from './helpers/process.ts';

/**
 * docs/DEPLOY.md, many processes on PostgreSQL: a server started before `init` logs "No owner yet".
 * The operator reads that in the journal and runs the command from a shell that lacks the unit's
 * EnvironmentFile: without DATABASE_URL, init made a SQLite installation in ./data instead.
 */
describe('deploy walk: the first start on PostgreSQL', { skip: !databaseKinds.includes('postgres') }, () => {
  const name = `review_deploy_walk_${randomBytes(4).toString('hex')}`;
  const folder = mkdtempSync(join(tmpdir(), 'gatehouse-deploy-walk-'));
  const url = new URL(postgresAdminUrl);
  url.pathname = `/${name}`;

  async function admin(query: string): Promise<void> {
    const client = new pg.Client({ connectionString: postgresAdminUrl });
    await client.connect();
    await client.query(query);
    await client.end();
  }

  after(async () => {
    await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    rmSync(folder, { recursive: true, force: true });
  });

  const base = () => ({ DATABASE_URL: url.toString(), GATEHOUSE_CLI_CREDENTIALS: join(folder, 'cli.json') });
  const noOwnerWarning = (env: Record<string, string>) => noOwnerWarningOf({ ...base(), ...env });
  const startupLines = (env: Record<string, string>) => startupLinesOf({ ...base(), ...env });

  test('"No owner yet" names the environment init needs, GATEHOUSE_SECRET only when the server has one', async () => {
    await admin(`CREATE DATABASE ${name}`);
    const secret = 'deploy-walk-secret-0123456789abcdefghij';
    assert.equal(
      await noOwnerWarning({ GATEHOUSE_SECRET: secret }),
      expected('DATABASE_URL and GATEHOUSE_SECRET'),
    );
    // A new installation: this one is sealed with the secret above now.
    await admin(`DROP DATABASE ${name} WITH (FORCE)`);
    await admin(`CREATE DATABASE ${name}`);
    assert.equal(await noOwnerWarning({ GATEHOUSE_SECRET: '' }), expected('DATABASE_URL'));
  });

  test('without REDIS_URL a server says its limits and locks are its own; with it, nothing is said', async () => {
    const alone =
      'PostgreSQL without REDIS_URL: rate limits, quotas, Idempotency-Key locks and caches are kept in this ' +
      'server alone. Run one API server on this database (one `gatehouse start --workers N` counts as one), ' +
      'or give every server and worker the same REDIS_URL (docs/DEPLOY.md)';
    const without = await startupLines({ REDIS_URL: '' });
    assert.equal(without.filter((msg) => msg === alone).length, 1, without.join('\n'));
    const withRedis = await startupLines({
      REDIS_URL: redisUrl,
      GATEHOUSE_REDIS_PREFIX: `review-deploy-walk-${randomBytes(4).toString('hex')}:`,
    });
    assert.deepEqual(
      withRedis.filter((msg) => msg.includes('REDIS_URL')),
      [],
      withRedis.join('\n'),
    );
  });
});

/** What `serve` logs (LOG_LEVEL=info) up to "Gatehouse listening on …", then stopped. */
async function startupLinesOf(env: Record<string, string>, cwd?: string): Promise<string[]> {
  const child = spawn(process.execPath, [join(process.cwd(), 'bin/gatehouse.js'), 'serve'], {
    cwd,
    env: { ...process.env, PORT: '0', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  try {
    return await new Promise<string[]>((resolve, reject) => {
      const read = (chunk: Buffer) => {
        output += chunk.toString();
        const lines = output.split('\n').filter((line) => line.startsWith('{'));
        const messages = lines.map((line) => (JSON.parse(line) as { msg: string }).msg);
        if (messages.some((msg) => msg.startsWith('Gatehouse listening on'))) resolve(messages);
      };
      child.stdout.on('data', read);
      child.stderr.on('data', read);
      child.on('exit', (code) => reject(new Error(`serve exited (${code}) before listening: ${output}`)));
    });
  } finally {
    child.kill('SIGKILL');
  }
}

/** `serve` on a database with no owner: the warning it logs, then stopped. */
async function noOwnerWarningOf(env: Record<string, string>, cwd?: string): Promise<string> {
  const lines = await startupLinesOf(env, cwd);
  const warning = lines.find((msg) => msg.includes('No owner yet'));
  if (warning === undefined) throw new Error(`no "No owner yet" warning: ${lines.join('\n')}`);
  return warning;
}

const NO_OWNER =
  'No owner yet: run "npx gatehouse init --email you@example.com" to create one (it asks for a password)';

/** The warning, naming what init must be run with. */
const expected = (variables: string) =>
  `${NO_OWNER}, with this server's ${variables} in its environment (without DATABASE_URL, init makes a separate SQLite ` +
  'installation in ./data)';

/**
 * docs/DEPLOY.md, a SQLite file elsewhere than ./data (`sqlite:///var/lib/gatehouse/gatehouse.db`
 * in a unit's EnvironmentFile): init run as the hint said, from a shell without DATABASE_URL,
 * made an owner in ./data/gatehouse.db, a separate installation no server uses.
 */
describe('deploy walk: the first start on a SQLite file elsewhere', () => {
  const folder = mkdtempSync(join(tmpdir(), 'gatehouse-deploy-sqlite-'));
  after(() => rmSync(folder, { recursive: true, force: true }));
  const env = (file: string, secret = '') => ({
    DATABASE_URL: `sqlite:${file}`,
    GATEHOUSE_SECRET: secret,
    GATEHOUSE_CLI_CREDENTIALS: join(folder, 'cli.json'),
  });

  test('"No owner yet" names DATABASE_URL when the file is not ./data/gatehouse.db', async () => {
    assert.equal(await noOwnerWarningOf(env(join(folder, 'var', 'gatehouse.db'))), expected('DATABASE_URL'));
  });

  test('the default file needs no variable, unless the server has GATEHOUSE_SECRET', async () => {
    assert.equal(await noOwnerWarningOf(env('./data/gatehouse.db'), folder), NO_OWNER);
    const other = mkdtempSync(join(folder, 'secret-'));
    assert.equal(
      await noOwnerWarningOf(env('./data/gatehouse.db', 'deploy-walk-secret-0123456789abcdefghij'), other),
      `${NO_OWNER}, with this server's GATEHOUSE_SECRET in its environment`,
    );
  });
});

/**
 * A managed PostgreSQL's DATABASE_URL carries `?sslmode=require`. pg verifies the certificate
 * (verify-full): a server without TLS, or with a certificate signed by a CA this machine does not
 * know, stopped serve, worker and init with a stack trace under "Database migration  failed".
 */
describe('deploy walk: DATABASE_URL with sslmode', () => {
  const folder = mkdtempSync(join(tmpdir(), 'gatehouse-deploy-tls-'));
  let fake: Server;
  let port = 0;

  before(async () => {
    const key = join(folder, 'key.pem');
    const cert = join(folder, 'cert.pem');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        key,
        '-out',
        cert,
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
      ],
      { stdio: 'ignore' },
    );
    const tls = { key: readFileSync(key), cert: readFileSync(cert) };
    // Answers pg's SSLRequest with 'S', then offers TLS with its self-signed certificate.
    fake = createServer((socket) => {
      socket.once('data', () => {
        socket.write('S');
        new TLSSocket(socket, { isServer: true, ...tls }).on('error', () => {});
      });
    });
    await new Promise<void>((resolve) => fake.listen(0, '127.0.0.1', resolve));
    const address = fake.address();
    port = typeof address === 'object' && address ? address.port : 0;
  });
  after(() => {
    rmSync(folder, { recursive: true, force: true });
    return new Promise<void>((resolve) => fake.close(() => resolve()));
  });

  async function refusal(args: string[], url: string): Promise<string> {
    const { code, stdout, stderr } = await runGatehouse(
      [...args, '--json'],
      {
        DATABASE_URL: url,
        REDIS_URL: '',
        PORT: '0',
        LOG_LEVEL: 'silent',
        GATEHOUSE_CLI_CREDENTIALS: join(folder, 'cli.json'),
      },
      60_000,
    );
    const said = `${args[0]}: ${stdout}${stderr}`;
    assert.equal(code, 1, said);
    assert.doesNotMatch(stderr, /\n\s+at /, `a stack trace: ${said}`);
    const envelope = JSON.parse(stdout) as { code: string; error: string };
    assert.equal(envelope.code, 'database_unreachable', said);
    return envelope.error;
  }

  test('a server without TLS: serve, worker and init say so in one line', {
    skip: !databaseKinds.includes('postgres'),
  }, async () => {
    const url = new URL(postgresAdminUrl);
    url.searchParams.set('sslmode', 'require');
    for (const args of [
      ['serve'],
      ['worker'],
      ['init', '--email', 'o@example.com', '--password', 'a long passphrase'],
    ]) {
      assert.equal(
        await refusal(args, url.toString()),
        'Cannot reach the database: DATABASE_URL asks for TLS (sslmode) but the server does not offer it ' +
          '(The server does not support SSL connections). Check DATABASE_URL, and that the database server is running',
      );
    }
  });

  test('a certificate from an unknown CA: serve says what to give', async () => {
    assert.equal(
      await refusal(['serve'], `postgres://gatehouse@127.0.0.1:${port}/gatehouse?sslmode=require`),
      "Cannot reach the database: the server's TLS certificate is not trusted (give its CA as sslrootcert=<file> " +
        'in DATABASE_URL) (self-signed certificate). Check DATABASE_URL, and that the database server is running',
    );
  });
});
