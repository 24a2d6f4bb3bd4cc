import type { Command } from 'commander';
import type { Config } from '../config.ts';
import { confirmIrreversible, withYes } from './confirm.ts';
import { CliFailure, printFields, printJson, reportFailure } from './output.ts';
import { runningServer } from './running-server.ts';

/** `gatehouse secret rotate`: the installation secret replaced, every value sealed with it sealed again. */
export function registerSecretCommands(program: Command, config: Config): void {
  const secret = program
    .command('secret')
    .description('the installation secret that encrypts the stored secrets (run where the database is)');
  withYes(
    secret
      .command('rotate')
      .description(
        'move to a new installation secret (GATEHOUSE_NEW_SECRET, or one generated into <database>.secret): every stored secret is re-encrypted in one transaction; stop every Gatehouse process on the database first',
      )
      .option('--json', 'print JSON'),
  ).action(async (options: { yes?: boolean; json?: boolean }) => {
    const json = options.json === true;
    try {
      const where = config.database.kind === 'sqlite' ? config.database.path : 'the PostgreSQL database';
      if (config.database.kind === 'sqlite' && config.database.path === ':memory:') {
        throw new CliFailure({
          success: false,
          error: 'secret rotate works on a database file or PostgreSQL, not :memory:',
          code: 'cli_usage',
        });
      }
      const recorded = runningServer(config);
      if (recorded) throw serverRunning(`${where} (a server runs at ${recorded.url}, pid ${recorded.pid})`);
      await confirmIrreversible(
        options,
        `This re-encrypts every stored secret of ${where} with a new installation secret. Every Gatehouse process on it (servers and workers) must be stopped, and backups made before open only with the old secret.`,
      );
      const { rotateSecret, InstanceLockedError, describeHolder } = await import('./secret-rotate.ts');
      let done: Awaited<ReturnType<typeof rotateSecret>>;
      try {
        done = await rotateSecret(config);
      } catch (error) {
        if (error instanceof InstanceLockedError) {
          const { holder } = error;
          if (holder?.kind === 'server' || holder === undefined) throw serverRunning(where);
          throw new CliFailure({
            success: false,
            error: `${describeHolder(holder).replace(/^a/, 'A')} is under way on ${where}: let it finish, then rotate the secret (nothing was changed)`,
            code: 'cli_error',
          });
        }
        throw error;
      }
      if (json) {
        printJson({ success: true, data: done });
        return;
      }
      printFields({ secret_source: done.secret_source, ...done.resealed });
      process.stdout.write(`\n${done.next_step}\n`);
    } catch (error) {
      reportFailure(error, json);
    }
  });
}

function serverRunning(where: string): CliFailure {
  return new CliFailure({
    success: false,
    error: `A Gatehouse server is running on ${where}: stop it, and every gatehouse worker on the database, then rotate the secret (nothing was changed)`,
    code: 'cli_error',
  });
}
