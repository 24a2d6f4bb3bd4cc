import { createInterface } from 'node:readline/promises';
import type { Command } from 'commander';
import { CliFailure } from './output.ts';

/** `--yes` on a command that cannot be undone. */
export function withYes(command: Command): Command {
  return command.option('-y, --yes', 'do it without asking (needed when not run in a terminal)');
}

/**
 * Before a command that cannot be undone: with `--yes`, go ahead; in a terminal, say what will be
 * lost and ask (typing `expected`, when given, else y); elsewhere (a script, a pipe) refuse, so a
 * script that meant something else loses nothing.
 */
export async function confirmIrreversible(
  options: { yes?: boolean },
  warning: string,
  expected?: string,
): Promise<void> {
  if (options.yes) return;
  if (!process.stdin.isTTY) {
    throw new CliFailure({
      success: false,
      error: `${warning} Nothing was done: add --yes to go ahead (there is no terminal to ask in).`,
      code: 'cli_not_confirmed',
    });
  }
  const prompt = expected ? `Type ${expected} to confirm: ` : 'Go ahead? [y/N] ';
  const terminal = createInterface({ input: process.stdin, output: process.stderr });
  let answer: string;
  try {
    answer = (await terminal.question(`${warning}\n${prompt}`)).trim();
  } catch {
    // Ctrl-C or Ctrl-D: no Enter ended the prompt's line, so the refusal would be written on it.
    process.stderr.write('\n');
    answer = '';
  } finally {
    terminal.close();
  }
  const agreed = expected ? answer === expected : /^y(es)?$/i.test(answer);
  if (!agreed) {
    throw new CliFailure({
      success: false,
      error: 'Not confirmed: nothing was done.',
      code: 'cli_not_confirmed',
    });
  }
}

/**
 * confirmIrreversible for one thing the server holds: without `--yes`, `lookUp` fetches it
 * first, so that an unknown id or a server that is down is said at once, not after the question
 * (or after "add --yes"); `warning` then names what was found. With `--yes`, no extra request.
 */
export async function confirmFound<T>(
  options: { yes?: boolean },
  lookUp: () => Promise<T>,
  warning: (found: T) => string,
  expected?: string,
): Promise<void> {
  if (options.yes) return;
  const found = await lookUp();
  await confirmIrreversible(options, warning(found), expected);
}
