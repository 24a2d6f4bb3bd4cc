import { Option } from 'commander';

/**
 * `--env`, as every command takes it: test or live, checked before anything is read or sent, so
 * that `--env prod` is the same usage error (cli_usage, "Allowed choices are test, live") whichever
 * command it is given to, and each command's help lists the choices.
 */
export function environmentOption(description: string): Option {
  return new Option('--env <environment>', description).choices(['test', 'live']);
}
