import { readFileSync } from 'node:fs';
import { CliFailure } from './output.ts';

/**
 * The text of a file an option names (`--schema-file`, `apps --file`; `-` is stdin). One that
 * cannot be read is a usage error naming the option and the file, as `records import` says it: no
 * Node error text (`ENOENT: no such file or directory, open …`).
 */
export function readOptionFile(option: string, file: string): string {
  try {
    return readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new CliFailure({
      success: false,
      error:
        code === 'ENOENT'
          ? `${option}: no such file: ${file}`
          : code === 'EISDIR'
            ? `${option}: ${file} is not a file`
            : `${option}: cannot read ${file} (${code ?? String(error)})`,
      code: 'cli_usage',
    });
  }
}
