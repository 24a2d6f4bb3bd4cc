import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { freePort } from '../bench/lib.ts';
import { createServices } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import { createTestDatabase, databaseKinds, type TestDatabase } from './helpers/database.ts';

const run = promisify(execFile);

for (const kind of databaseKinds) {
  describe(`a process with another GATEHOUSE_SECRET (${kind})`, () => {
    let database: TestDatabase;
    before(async () => {
      database = await createTestDatabase(kind);
      // The installation is set up with one secret: its callback signing secret is sealed with it.
      const services = await createServices(
        loadConfig({
          DATABASE_URL: database.url,
          GATEHOUSE_SECRET: 'the-installation-secret-0123456789',
          LOG_LEVEL: 'silent',
        }),
      );
      await services.close();
    });
    after(() => database.drop());

    /** Runs the CLI; resolves with its exit code and output whatever the code. */
    async function gatehouse(args: string[], env: Record<string, string | undefined>) {
      try {
        const { stdout, stderr } = await run(process.execPath, ['bin/gatehouse.js', ...args], {
          env: {
            ...process.env,
            DATABASE_URL: database.url,
            LOG_LEVEL: 'silent',
            GATEHOUSE_SECRET: undefined,
            ...env,
          },
          timeout: 30_000,
        });
        return { code: 0, stdout, stderr };
      } catch (error) {
        const e = error as { code: number; stdout: string; stderr: string };
        return { code: e.code, stdout: e.stdout, stderr: e.stderr };
      }
    }

    test('serve, worker and init refuse in one line naming GATEHOUSE_SECRET, without a stack trace', async () => {
      const port = String(await freePort());
      for (const [args, secret] of [
        [['serve'], 'a-different-secret-0123456789abcdef'],
        [['worker'], 'a-different-secret-0123456789abcdef'],
        [['serve'], undefined],
        [
          ['init', '--email', 'o@example.com', '--password', 'a long passphrase'],
          'another-one-0123456789abcdef',
        ],
      ] as const) {
        const res = await gatehouse([...args], { PORT: port, GATEHOUSE_SECRET: secret });
        assert.equal(res.code, 1, `${args[0]}: ${res.stdout}${res.stderr}`);
        const said = res.stdout + res.stderr;
        assert.match(said, /GATEHOUSE_SECRET/, said);
        assert.match(said, /config_error/, said);
        assert.doesNotMatch(said, /\n\s+at /, `a stack trace: ${said}`);
      }
      // The right secret still starts.
      const ok = await gatehouse(
        ['init', '--email', 'o@example.com', '--password', 'a long passphrase', '--json'],
        {
          GATEHOUSE_SECRET: 'the-installation-secret-0123456789',
          GATEHOUSE_CLI_CREDENTIALS: '/nonexistent/credentials.json',
        },
      );
      assert.doesNotMatch(ok.stdout + ok.stderr, /config_error/, ok.stdout + ok.stderr);
    });
  });
}
