import type { Command } from 'commander';
import { usage } from './data-commands.ts';
import { reportFailure } from './output.ts';

/**
 * A group (`endpoints`, `keys`, `webhooks`…, or `gatehouse` itself) called without one of its
 * commands: its usage on stderr, as commander prints it; with --json, the cli_usage envelope naming
 * the commands it takes. `gatehouse endpoints --json list` is `gatehouse endpoints list --json`.
 */
export function withGroupUsage(group: Command): Command {
  const path = group.parent ? `${group.parent.name()} ${group.name()}` : group.name();
  passJsonDown(group)
    .argument('[command]')
    // As commander writes a group's usage (the argument would add a second [command]).
    .usage('[options] [command]')
    // A mistyped command with its arguments (`gatehouse endpoints shwo orders`) is an unknown
    // command, with commander's "Did you mean show?", not "too many arguments".
    .allowExcessArguments()
    // commander drops a group's implicit `help [command]` once it has an action: kept, so that
    // `gatehouse endpoints help list` still shows that command's help.
    .helpCommand(true)
    .action((name: string | undefined, o: { json?: boolean }) => {
      // commander's own error, with its "Did you mean …?": a method its typings leave out.
      if (name !== undefined) (group as Command & { unknownCommand(): never }).unknownCommand();
      if (!o.json) group.help({ error: true });
      const names = group.commands.map((c) => c.name()).filter((n) => n !== 'help');
      reportFailure(usage(`${path} needs a command: ${names.join(', ')} (${path} --help says more)`), true);
    });
  return group;
}

/**
 * `--json` given before a command (`gatehouse --json endpoints list`, `gatehouse endpoints --json
 * list`) is that command's `--json`.
 */
export function passJsonDown(parent: Command): Command {
  return parent
    .option('--json', 'print JSON (as the --json of the command that follows)')
    .hook('preSubcommand', (self, command) => {
      if (self.opts().json) command.setOptionValueWithSource('json', true, 'cli');
    });
}
