import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { ConfigError, lazyConfig } from '../config.ts';
import { registerAppsCommands } from './apps-commands.ts';
import {
  helpTopic,
  refuseOptionsAsValues,
  refuseRepeatedOptions,
  requireAfterUnknown,
  withGroupUsage,
} from './command-groups.ts';
import { registerCommands } from './commands.ts';
import { failureEnvelope, printJson, reportFailure } from './output.ts';

// Piped into `head` and the like: a reader that stops early ends the command quietly, as Unix tools do.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});

const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

// With --json, a usage error (unknown option, missing argument, bad value) is the error envelope on stdout.
const json = process.argv.includes('--json');

const program = new Command();
program
  .name('gatehouse')
  .description('Gatehouse: a self-hosted API platform')
  .version(version, '-V, --version', 'print the version')
  .configureOutput({
    outputError: (message, write) => {
      if (!json) return write(message);
      printJson(
        failureEnvelope({ success: false, error: message.replace(/^error: /, '').trim(), code: 'cli_usage' }),
      );
    },
  })
  // The help is for people; with --json, the envelope alone (stdout) is the answer.
  .showHelpAfterError(!json);
const config = lazyConfig();
registerCommands(program, config);
registerAppsCommands(program, config);
for (const command of program.commands) if (command.commands.length > 0) withGroupUsage(command);
// `gatehouse --json` alone is the envelope naming its commands, as a group's.
withGroupUsage(program);
requireAfterUnknown(program);
refuseRepeatedOptions(program);
refuseOptionsAsValues(program, process.argv.slice(2));
helpTopic(program, process.argv.slice(2));
try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  reportFailure(error, json);
}
