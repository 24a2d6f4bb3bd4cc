import { Command } from 'commander';
import { loadConfig } from '../config.ts';
import { registerAppsCommands } from './apps-commands.ts';
import { registerCommands } from './commands.ts';

const program = new Command();
program.name('gatehouse').description('Gatehouse: a self-hosted API platform').showHelpAfterError();
registerCommands(program);
registerAppsCommands(program, loadConfig());
await program.parseAsync(process.argv);
