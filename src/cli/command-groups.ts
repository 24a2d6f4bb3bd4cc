import type { Command } from 'commander';
import { collect, usage } from './data-commands.ts';
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
    // Options after a mistyped command are that command's (`gatehouse keys creat --name x`): left
    // for the action, so that the mistake is said as the unknown command, not as `--name`.
    .allowUnknownOption()
    // commander drops a group's implicit `help [command]` once it has an action: kept, so that
    // `gatehouse endpoints help list` still shows that command's help.
    .helpCommand(true)
    .action((name: string | undefined, o: { json?: boolean }) => {
      // commander's own errors, with their "Did you mean …?": methods its typings leave out.
      // No command, but an unknown option (`gatehouse keys --jsno`): the group's own, said as such.
      if (name?.startsWith('-'))
        (group.allowUnknownOption(false) as Command & { unknownOption(flag: string): never }).unknownOption(
          name,
        );
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

/**
 * A command's required options are checked after its unknown ones, not before as commander does:
 * `endpoints create --slgu orders` is the unknown `--slgu` (with its "Did you mean --slug?"), not a
 * `--slug` said to be missing. Same message, same code, once the options are known.
 */
export function requireAfterUnknown(command: Command): void {
  const required = command.options.filter((option) => option.mandatory);
  for (const option of required) option.makeOptionMandatory(false);
  // `endpoints create orders`: the slug is an option there, and commander's "too many arguments"
  // alone does not say so. Same message and code, with the option it was likely meant for.
  const named = command.registeredArguments.length === 0 ? required[0] : undefined;
  if (named) command.allowExcessArguments();
  if (required.length > 0)
    command.hook('preAction', (self) => {
      if (named && self.args.length > 0) {
        const [value] = self.args;
        const meant =
          self.args.length === 1 && self.getOptionValue(named.attributeName()) === undefined
            ? `\n(Did you mean ${named.long} ${shellWord(value as string)}?)`
            : '';
        self.error(
          `error: too many arguments for '${self.name()}'. Expected 0 arguments but got ${self.args.length}.${meant}`,
          { code: 'commander.excessArguments' },
        );
      }
      for (const option of required)
        if (self.getOptionValue(option.attributeName()) === undefined)
          self.error(`error: required option '${option.flags}' not specified`, {
            code: 'commander.missingMandatoryOptionValue',
          });
    });
  for (const sub of command.commands) requireAfterUnknown(sub);
}

/**
 * An option that takes a value, given twice (`--name a --name b`), is refused naming it, rather than
 * keeping the last one without a word; those documented as repeatable (`--field`, `--scope`…)
 * gather every value. Flags without a value (`--json --json`) lose nothing and stay allowed.
 */
export function refuseRepeatedOptions(command: Command): void {
  for (const option of command.options) {
    if (!(option.required || option.optional) || option.variadic || option.parseArg === collect) continue;
    let given = false;
    command.on(`option:${option.name()}`, () => {
      if (given)
        command.error(`error: ${option.long ?? option.short} may be given only once`, {
          code: 'commander.optionRepeated',
        });
      given = true;
    });
  }
  for (const sub of command.commands) refuseRepeatedOptions(sub);
}

/**
 * An option that takes a value, followed by another option (`keys create --name --env test`, the
 * name left out): commander took `--env` as the name, and then said only "too many arguments"
 * about `test`. Refused as the value missing, naming the option that followed; a value that
 * begins with a dash is still given as `--name=--env`.
 */
export function refuseOptionsAsValues(command: Command, argv: readonly string[]): void {
  const flags = new Set(['-h', '--help']);
  for (let at: Command | null = command; at; at = at.parent)
    for (const option of at.options)
      for (const flag of [option.long, option.short]) if (flag) flags.add(flag);
  for (const option of command.options) {
    if (!option.required) continue;
    command.on(`option:${option.name()}`, (value: unknown) => {
      if (typeof value !== 'string' || !flags.has(value)) return;
      if (option.long && argv.includes(`${option.long}=${value}`)) return;
      command.error(
        `error: option '${option.flags}' argument missing (${value} followed it: give ${option.long ?? option.short} its value first, or ${option.long ?? option.short}=${value} for a value that begins with -)`,
        { code: 'commander.optionMissingArgument' },
      );
    });
  }
  for (const sub of command.commands) refuseOptionsAsValues(sub, argv);
}

/** `value` as a shell takes it back: quoted when it holds a space or another special character. */
function shellWord(value: string): string {
  return /^[\w@.:/+=,-]+$/.test(value) ? value : `'${value.replaceAll("'", "'\\''")}'`;
}

/**
 * `gatehouse help <command>…` as people type it, before commander parses (it reads one name after
 * `help`): `gatehouse help endpoints list` is the help of `endpoints list`, not of `endpoints`; and
 * `gatehouse help nope`, `gatehouse help keys nope` or `gatehouse keys help nope` is the unknown
 * command said as `gatehouse nope` says it (with its "Did you mean …?"), not another page of help;
 * so is a word after a whole command (`gatehouse help keys list extra`).
 */
export function helpTopic(program: Command, argv: readonly string[]): void {
  // Options are no command names, nor the values they take (`help records import --format csv`).
  const takesValue = optionsTakingValues(program);
  const words = argv.filter(
    (word, i) => !word.startsWith('-') && !(i > 0 && takesValue.has(argv[i - 1] as string)),
  );
  const find = (group: Command, name: string) =>
    group.commands.find((command) => command.name() === name || command.aliases().includes(name));
  let group: Command = program;
  let at = 0;
  for (; at < words.length && words[at] !== 'help'; at++) {
    const next = find(group, words[at] as string);
    if (!next || next.commands.length === 0) return;
    group = next;
  }
  const topic = words.slice(at + 1);
  for (const [index, name] of topic.entries()) {
    // `help help`: commander's own help command, in no list of commands: the group's help.
    if (name === 'help' && group.commands.length > 0) {
      const extra = topic[index + 1];
      if (extra === undefined) group.help();
      // `help help extra`: the help command takes no command; the word after it is the unknown one.
      unknownCommand(group, extra, false);
    }
    // Past a command with no commands of its own (`help keys list extra`), a word is unknown too,
    // rather than left out of the help shown.
    group = find(group, name) ?? unknownCommand(group, name);
  }
  // One name is commander's to show; more, the last one.
  if (topic.length > 1) group.help();
}

/**
 * commander's own error for an unknown command, as `gatehouse nope` says it (with its "Did you mean
 * …?" when `suggest` and the command has commands to suggest): exit 1, the envelope with --json.
 */
function unknownCommand(command: Command, name: string, suggest = true): never {
  if (!suggest) command.error(`error: unknown command '${name}'`, { code: 'commander.unknownCommand' });
  command.args = [name];
  // A method commander's typings leave out.
  return (command as Command & { unknownCommand(): never }).unknownCommand();
}

/** The flags (`--format`, `-f`) that take a value in the next word, in any command. */
function optionsTakingValues(command: Command, into = new Set<string>()): Set<string> {
  for (const option of command.options)
    if (option.required || option.optional)
      for (const flag of [option.long, option.short]) if (flag) into.add(flag);
  for (const sub of command.commands) optionsTakingValues(sub, into);
  return into;
}
