import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import pg from 'pg';
import { databaseKinds, postgresAdminUrl } from './helpers/database.ts';

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

  /** `serve` on a database with no owner: the warning it logs, then stopped. */
  async function noOwnerWarning(env: Record<string, string>): Promise<string> {
    const child = spawn(process.execPath, ['bin/gatehouse.js', 'serve'], {
      env: {
        ...process.env,
        DATABASE_URL: url.toString(),
        PORT: '0',
        LOG_LEVEL: 'warn',
        GATEHOUSE_CLI_CREDENTIALS: join(folder, 'cli.json'),
        ...env,
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    try {
      return await new Promise<string>((resolve, reject) => {
        child.stderr.on('data', (chunk: Buffer) => {
          stderr += chunk.toString();
          for (const line of stderr.split('\n')) {
            if (line.includes('No owner yet')) resolve((JSON.parse(line) as { msg: string }).msg);
          }
        });
        child.on('exit', (code) =>
          reject(new Error(`serve exited (${code}) without the warning: ${stderr}`)),
        );
      });
    } finally {
      child.kill('SIGKILL');
    }
  }

  /** The warning, naming what init must be run with. */
  const expected = (variables: string) =>
    'No owner yet: run "npx gatehouse init --email you@example.com" to create one (it asks for a password), ' +
    `with this server's ${variables} in its environment (without DATABASE_URL, init makes a separate SQLite ` +
    'installation in ./data)';

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
});
