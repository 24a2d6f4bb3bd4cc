import { ConfigError } from '../config.ts';
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

export interface ErrorEnvelope {
  success: false;
  error: string;
  code: string;
  details?: Array<{ field: string; error: string }>;
  request_id?: string;
}

export class CliFailure extends Error {
  constructor(readonly envelope: ErrorEnvelope) {
    super(envelope.error);
  }
}

export function reportFailure(error: unknown, json: boolean): never {
  const envelope: ErrorEnvelope =
    error instanceof CliFailure
      ? error.envelope
      : {
          success: false,
          error: error instanceof Error ? error.message : String(error),
          // A bad environment variable, found when the command first read the configuration.
          code: error instanceof ConfigError ? 'config_error' : 'cli_error',
        };
  if (json) printJson(envelope);
  else {
    process.stderr.write(`Error: ${envelope.error} (${envelope.code})\n`);
    for (const d of envelope.details ?? []) process.stderr.write(`  ${d.field}: ${d.error}\n`);
  }
  process.exit(1);
}
