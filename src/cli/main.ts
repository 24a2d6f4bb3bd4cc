import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { loadConfig } from '../config.ts';
import { registerAppsCommands } from './apps-commands.ts';
import { registerCommands } from './commands.ts';

// Piped into `head` and the like: a reader that stops early ends the command quietly, as Unix tools do.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});

const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

const program = new Command();
program
  .name('gatehouse')
  .description('Gatehouse: a self-hosted API platform')
  .version(version, '-V, --version', 'print the version')
  .showHelpAfterError();
registerCommands(program);
registerAppsCommands(program, loadConfig());
await program.parseAsync(process.argv);
