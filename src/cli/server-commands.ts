import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Command } from 'commander';
import { createServices } from '../app.ts';
import type { Config } from '../config.ts';
import { ApiError } from '../errors.ts';
import { startServer, startWorker } from '../server/serve.ts';
import { CliFailure, printFields, printJson, reportFailure } from './output.ts';

function saveCredentials(config: Config, token: string): void {
  mkdirSync(dirname(config.cliCredentialsPath), { recursive: true });
  writeFileSync(config.cliCredentialsPath, JSON.stringify({ url: config.apiUrl ?? config.localUrl, token }), {
    mode: 0o600,
  });
  chmodSync(config.cliCredentialsPath, 0o600);
}

async function runUntilSignal(start: () => Promise<{ stop(): Promise<void> }>): Promise<void> {
  const server = await start();
  const shutdown = (signal: string) => {
    process.stderr.write(`${signal}: finishing in-flight requests, then exiting\n`);
    server.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}

export function registerServerCommands(program: Command, config: Config): void {
  program
    .command('init')
    .description('create the first owner and print a management token (once)')
    .requiredOption('--email <email>', 'owner email')
    .requiredOption('--password <password>', 'owner password (at least 8 characters)')
    .option('--json', 'print JSON')
    .action(async (options: { email: string; password: string; json?: boolean }) => {
      const services = await createServices(config);
      try {
        const result = await services.owners.init({ email: options.email, password: options.password });
        saveCredentials(config, result.token);
        if (options.json) printJson({ success: true, data: result });
        else {
          printFields({ owner: result.owner.email, role: result.owner.role, token: result.token });
          process.stdout.write(
            `\nThis management token is shown once. The CLI saved it in ${config.cliCredentialsPath} (mode 0600).\n`,
          );
        }
      } catch (error) {
        if (error instanceof ApiError) {
          reportFailure(
            new CliFailure({
              success: false,
              error: error.message,
              code: error.code,
              details: error.details ?? [],
            }),
            options.json === true,
          );
        }
        reportFailure(error, options.json === true);
      } finally {
        await services.close();
      }
    });

  program
    .command('start')
    .description('run the API, dashboard and webhook worker in one process')
    .action(() => runUntilSignal(() => startServer(config, { worker: true })));

  program
    .command('serve')
    .description('run the API only (run webhook workers with "gatehouse worker")')
    .action(() => runUntilSignal(() => startServer(config, { worker: false })));

  program
    .command('worker')
    .description('run the webhook worker only: processes the outbox and delivers webhooks')
    .action(() => runUntilSignal(() => startWorker(config)));
}
