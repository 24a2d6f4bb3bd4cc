import { ConfigError } from '../config.ts';
import type { ErrorCode } from '../errors.ts';
import { fieldLabel, optionsInMessage } from './option-fields.ts';
/** CLI output: tables for people, the API's JSON envelope with --json. Failures exit non-zero. */

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export function printTable(rows: Array<Record<string, unknown>>, columns: string[]): void {
  if (rows.length === 0) {
    process.stdout.write('(none)\n');
    return;
  }
  const cell = (v: unknown) =>
    v === null || v === undefined ? '-' : typeof v === 'object' ? JSON.stringify(v) : String(v);
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (values: string[]) =>
    values
      .map((v, i) => v.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  process.stdout.write(`${line(columns.map((c) => c.toUpperCase()))}\n`);
  for (const row of rows) process.stdout.write(`${line(columns.map((c) => cell(row[c])))}\n`);
}

export function printFields(record: Record<string, unknown>): void {
  const width = Math.max(...Object.keys(record).map((k) => k.length));
  for (const [k, v] of Object.entries(record)) {
    const text = v === null || v === undefined ? '-' : typeof v === 'object' ? JSON.stringify(v) : String(v);
    process.stdout.write(`${k.padEnd(width)}  ${text}\n`);
  }
}

/** Codes the CLI itself reports (beside the API's, which it passes on); listed in docs/errors.md. */
export const cliErrorCodes = {
  cli_usage:
    'A command was called wrongly: an unknown option, a missing or invalid argument, conflicting options, an option given twice that is not repeatable.',
  cli_not_confirmed:
    'A command that cannot be undone (`endpoints delete`, `apps delete`, `keys revoke`, `webhooks delete`, `tokens revoke`, `secret rotate`, a `restore` of a backup older than the database) was not confirmed: not run in a terminal and no `--yes`, or the answer did not match. Nothing was done. (An unknown id, or a server that does not answer, is said before asking, with its own code.)',
  cli_error:
    'The command failed on this machine (a file it could not read, for instance); the message says why.',
  cli_no_token:
    'No management token: none saved by `gatehouse init` where the CLI looked, and no `--token` or `GATEHOUSE_TOKEN`.',
  cli_unreachable:
    'No Gatehouse answered at the URL the CLI used (`--url`, `GATEHOUSE_URL`, the saved one, or `http://HOST:PORT`).',
  cli_bad_response:
    'Something answered at that URL, but not with Gatehouse JSON (another service on the port?).',
  config_error:
    'The installation is set up wrongly: an invalid environment variable, or an installation secret that does not open its data; the message names it.',
  database_unreachable:
    'The database in DATABASE_URL did not answer (refused, unknown host, no such database, authentication failed, or something other than PostgreSQL on the port closed the connection); the message says which.',
  backup_failed: '`gatehouse backup` could not make the backup; the message says why.',
  restore_failed:
    '`gatehouse restore` refused or could not finish; the database was not replaced. The message says why.',
  not_sqlite: '`gatehouse backup` and `restore` work on a SQLite database; PostgreSQL has `pg_dump`.',
} as const;

export type CliErrorCode = keyof typeof cliErrorCodes;

export interface ErrorEnvelope {
  success: false;
  error: string;
  /** The API's code, passed on, or one of cliErrorCodes. */
  code: ErrorCode | CliErrorCode;
  details?: Array<{ field: string; error: string }>;
  request_id?: string;
}

export class CliFailure extends Error {
  constructor(readonly envelope: ErrorEnvelope) {
    super(envelope.error);
  }
}

/** The API's envelope, field for field: `details` always there (empty when nothing to point at). */
export function failureEnvelope(failure: ErrorEnvelope): ErrorEnvelope {
  const { success, error, code, details = [], request_id } = failure;
  return request_id === undefined
    ? { success, error, code, details }
    : { success, error, code, details, request_id };
}

/**
 * `byField`: the options the user typed, by the API field each set (see option-fields.ts), so that
 * the details on stderr name the option; --json prints the API's envelope as it is.
 */
export function reportFailure(error: unknown, json: boolean, byField: Record<string, string> = {}): never {
  const envelope: ErrorEnvelope =
    error instanceof CliFailure
      ? error.envelope
      : {
          success: false,
          error: error instanceof Error ? error.message : String(error),
          // A bad environment variable, found when the command first read the configuration.
          code: error instanceof ConfigError ? error.code : 'cli_error',
        };
  if (json) printJson(failureEnvelope(envelope));
  else {
    process.stderr.write(`Error: ${envelope.error} (${envelope.code})\n`);
    for (const d of envelope.details ?? [])
      process.stderr.write(`  ${fieldLabel(d.field, byField)}: ${optionsInMessage(d.error, byField)}\n`);
  }
  process.exit(1);
}
