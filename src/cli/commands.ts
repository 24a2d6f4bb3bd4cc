import type { Command } from 'commander';
import type { Config } from '../config.ts';
import { registerBackupCommands } from './backup-commands.ts';
import { registerDataCommands } from './data-commands.ts';
import { registerRecordsCommands } from './records-commands.ts';
import { registerSecretCommands } from './secret-commands.ts';
import { registerServerCommands } from './server-commands.ts';
import { registerTokenCommands } from './token-commands.ts';
import { registerTypesCommand } from './types-command.ts';
import { registerUsageCommands } from './usage-commands.ts';
import { registerWebhookCommands } from './webhook-commands.ts';

/** Every command: server lifecycle (init, start, serve) and the management API (endpoints, keys). */
export function registerCommands(program: Command, config: Config): void {
  registerServerCommands(program, config);
  registerDataCommands(program, config);
  registerUsageCommands(program, config);
  registerWebhookCommands(program, config);
  registerTypesCommand(program, config);
  registerRecordsCommands(program, config);
  registerBackupCommands(program, config);
  registerSecretCommands(program, config);
  registerTokenCommands(program, config);
}
