import { Command } from 'commander';
import { registerCommands } from './commands.ts';

const program = new Command();
program.name('gatehouse').description('Gatehouse: a self-hosted API platform').showHelpAfterError();
registerCommands(program);
await program.parseAsync(process.argv);
