import { readFileSync } from 'node:fs';
import { CliFailure } from './output.ts';

/**
 * The usage error for a file that cannot be read, without Node's text (`ENOENT: no such file or
 * directory, open …`): `reason` is the error of the read or stat, or `not a file` (a folder, a
 * device). With `option`, the message leads with it (`--file: no such file: x.json`); without,
 * it stands alone (`No such file: x.json`).
 */
export function unreadableFile(
  file: string,
  reason: NodeJS.ErrnoException | 'not a file',
  option?: string,
): CliFailure {
  const code = reason === 'not a file' ? 'EISDIR' : reason.code;
  const lead = (text: string) =>
    option ? `${option}: ${text}` : `${text.charAt(0).toUpperCase()}${text.slice(1)}`;
  const error =
    code === 'ENOENT'
      ? lead(`no such file: ${file}`)
      : code === 'EISDIR'
        ? `${option ? `${option}: ` : ''}${file} is not a file`
        : lead(`cannot read ${file} (${code ?? String(reason)})`);
  return new CliFailure({ success: false, error, code: 'cli_usage' });
}

/**
 * The text of a file an option names (`--schema-file`, `apps --file`; `-` is stdin). One that
 * cannot be read is a usage error naming the option and the file (unreadableFile).
 */
export function readOptionFile(option: string, file: string): string {
  try {
    return readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (error) {
    throw unreadableFile(file, error as NodeJS.ErrnoException, option);
  }
}
