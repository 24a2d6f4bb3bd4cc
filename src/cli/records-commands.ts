import { once } from 'node:events';
import { createReadStream, createWriteStream, rmSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { type Command, InvalidArgumentError, type Option } from 'commander';
import { parse as parseCsv } from 'csv-parse';
import { stringify as stringifyCsv } from 'csv-stringify';
import { parseJson as parseExact, stringifyJson as stringifyExact } from '../../packages/client/src/json.ts';
import type { Config } from '../config.ts';
import type { EndpointJson, EndpointVersionJson } from '../endpoints/endpoint-service.ts';
import { resolveRef } from '../endpoints/schema-refs.ts';
import { ApiError } from '../errors.ts';
import { MAX_REQUEST_BYTES, parseJson } from '../http/json-body.ts';
import { JsonText, managementClient } from './client.ts';
import { endpointPath, withCommon } from './data-commands.ts';
import { environmentOption } from './environment-option.ts';
import { firstProblems } from './first-problems.ts';
import { unreadableFile } from './option-file.ts';
import { CliFailure, printJson, reportFailure } from './output.ts';
import { firstNonUtf8Line } from './utf8-file.ts';

interface Row {
  line: number;
  /** The row as sent: its JSON text (long integers keep their digits). */
  text: string;
  /** Why the server would refuse the row's JSON, found here so that only this row is rejected. */
  problems?: Array<{ field: string; error: string }>;
}

/** A row's text checked by the server's own JSON rules (strict UTF-8, no U+0000, depth, range). */
function row(line: number, text: string): Row {
  // An import request could not carry it (and no endpoint takes a record over 5 MiB).
  if (Buffer.byteLength(text) > MAX_RECORD_BYTES) {
    return {
      line,
      text: '',
      problems: [
        {
          field: '(line)',
          error: `Larger than ${MAX_RECORD_BYTES} bytes, the most one import request can carry`,
        },
      ],
    };
  }
  try {
    parseJson(Buffer.from(text));
    return { line, text };
  } catch (error) {
    // Not JSON at all: said as such; JSON the server would refuse: its reason and field.
    const details =
      error instanceof ApiError && error.details && error.message !== 'Invalid JSON'
        ? error.details.map((d) => (d.field === '(body)' ? { ...d, field: '(line)' } : d))
        : [{ field: '(line)', error: 'Invalid JSON' }];
    return { line, text, problems: details };
  }
}

/** The largest row sent: the management API's body limit, less the `{"records":[]}` around it. */
const MAX_RECORD_BYTES = MAX_REQUEST_BYTES - '{"records":[]}'.length;

/** The problems an import keeps to report: as many as --json lists. */
const MAX_PROBLEMS = 1_000;

const BOM = '\uFEFF';

/** The first line of a file read as NDJSON by default that is not JSON: maybe another format. */
const NOT_NDJSON = {
  field: '(line)',
  error:
    'Invalid JSON (the file was read as NDJSON, one JSON object per line: for CSV or one JSON array give --format csv or json)',
};
const LINE_BREAK = /\r\n|\r|\n/g;

type Format = 'ndjson' | 'json' | 'csv';

function formatOf(file: string, given?: string): Format {
  if (given === 'ndjson' || given === 'json' || given === 'csv') return given;
  if (given)
    throw new CliFailure({
      success: false,
      error: `Unknown format "${given}" (ndjson, json, csv)`,
      code: 'cli_usage',
    });
  if (/\.csv$/i.test(file)) return 'csv';
  if (/\.json$/i.test(file)) return 'json';
  // NDJSON as `records export` writes it: .ndjson, .jsonl, a name with no extension, or stdin.
  if (file === '-' || /\.(ndjson|jsonl)$/i.test(file) || !/\.[^./\\]+$/.test(file)) return 'ndjson';
  throw new CliFailure({
    success: false,
    error: `Cannot tell the format of ${file} from its name: give --format ndjson, json or csv`,
    code: 'cli_usage',
  });
}

/** The file to import, there and a file: said plainly before anything is sent. */
function checkReadable(file: string): void {
  if (file === '-') return;
  let isFile: boolean;
  try {
    isFile = statSync(file).isFile();
  } catch (error) {
    throw unreadableFile(file, error as NodeJS.ErrnoException);
  }
  if (!isFile) throw unreadableFile(file, 'not a file');
}

/**
 * Whether a text that is not one JSON value reads as NDJSON: several lines, the first of them a
 * whole JSON object (an array's first line is `[`, a pretty-printed object's `{`).
 */
function holdsNdjson(content: string): boolean {
  const lines = content.split(LINE_BREAK).filter((line) => line.trim() !== '');
  if (lines.length < 2) return false;
  try {
    const first: unknown = JSON.parse(lines[0] as string);
    return typeof first === 'object' && first !== null && !Array.isArray(first);
  } catch {
    return false;
  }
}

/**
 * Each element of a top-level JSON array (the text is valid JSON): the file line it starts on,
 * and its text, which is sent as it is (as an NDJSON line is): the server keeps long integers'
 * digits and refuses a number past a double's range, which JSON.parse would make Infinity and
 * JSON.stringify null.
 */
function elements(content: string): Array<{ line: number; text: string }> {
  const found: Array<{ line: number; text: string }> = [];
  let line = 1;
  let depth = 0;
  /** The element being read: its line and first character; `end` follows its last one. */
  let current: { line: number; start: number } | undefined;
  let end = 0;
  for (let i = 0; i < content.length; i++) {
    const c = content[i] as string;
    if (c === '\n') {
      line++;
      continue;
    }
    if (c === ' ' || c === '\t' || c === '\r') continue;
    if (depth === 1 && (c === ',' || c === ']')) {
      if (current) found.push({ line: current.line, text: content.slice(current.start, end) });
      current = undefined;
      if (c === ']') depth--;
      continue;
    }
    if (depth === 1 && !current) current = { line, start: i };
    if (c === '"') {
      for (i++; i < content.length && content[i] !== '"'; i++) if (content[i] === '\\') i++;
    } else if (c === '[' || c === '{') {
      depth++;
    } else if (c === ']' || c === '}') {
      depth--;
    }
    end = i + 1;
  }
  return found;
}

/**
 * A number as a cell writes one: digits, a fraction, an exponent; leading zeros allowed (a
 * spreadsheet's zero-padded ids). Not hex, not `1_000`, not blanks (Number() reads those as 0).
 */
const CELL_NUMBER = /^-?\d+(\.\d+)?([eE][+-]?\d+)?$/;

/** A cell that reads as null: `null`, blanks around it allowed (not `NULL`, nor `Null`). */
const NULL_CELL = /^\s*null\s*$/;

/**
 * Text a spreadsheet (Excel, Sheets, LibreOffice) would run as a formula when it opens the CSV:
 * starting with =, +, -, @, tab or CR (OWASP's CSV injection list). The export writes such a
 * string with a `'` before it, which spreadsheets show as text; so that the guard can be told
 * from the data, text that already starts with quotes before one of those is guarded too
 * (`'=x` is written `''=x`), and the import takes one `'` off every cell GUARDED matches.
 */
const FORMULA = /^'*[=+\-@\t\r]/;
const GUARDED = /^'+[=+\-@\t\r]/;

/**
 * CSV cells are text: type them by the schema's declared property types. An empty cell (or one
 * of blanks) is an absent field; an unquoted `null` is JSON null where the column's types allow
 * null (as the export writes it; a quoted `"null"` is the text, see QuotedText); a number
 * column's cell is a number only when it is written as one, else it stays text for the schema to
 * refuse.
 */
function typedCell(raw: string, types: string[] | undefined): unknown {
  const t = types ?? ['string'];
  const numeric = t.includes('integer') || t.includes('number');
  const value = numeric || t.includes('boolean') ? raw.trim() : raw;
  if (value === '') return undefined;
  if (t.includes('null') && NULL_CELL.test(value)) return null;
  if (numeric && CELL_NUMBER.test(value) && Number.isFinite(Number(value))) return Number(value);
  if (t.includes('boolean') && (value === 'true' || value === 'false')) return value === 'true';
  if ((t.includes('object') || t.includes('array')) && /^[[{]/.test(value)) {
    try {
      JSON.parse(value);
      return new JsonCell(value);
    } catch {
      return value;
    }
  }
  return value;
}

/**
 * An object or array cell: sent as its text, as an NDJSON line is (JSON.parse would round a long
 * integer in it, which the export writes digit for digit, and make 1e400 Infinity, then null).
 */
class JsonCell {
  constructor(readonly text: string) {}
}

/**
 * The JSON types a property's values may have, for typing its CSV cells: its `type`, else those
 * of its `enum` or `const` values, else those of every `anyOf`/`oneOf` branch, else those of the
 * definition its local `$ref` names (as the export writes `2` for an `"enum": [1, 2, 3]`);
 * undefined when the schema does not say.
 */
function cellTypes(property: unknown, root: unknown, depth = 0): string[] | undefined {
  if (!property || typeof property !== 'object' || depth > 16) return undefined;
  const p = property as {
    type?: string | string[];
    enum?: unknown;
    const?: unknown;
    $ref?: unknown;
    anyOf?: unknown;
    oneOf?: unknown;
  };
  if (p.type !== undefined) return [p.type].flat();
  const values = 'const' in p ? [p.const] : Array.isArray(p.enum) ? p.enum : undefined;
  if (values) return [...new Set(values.map(jsonType))];
  // A nullable field as `anyOf: [{type: integer}, {type: null}]`: every branch's types, when each says.
  const branches = Array.isArray(p.anyOf) ? p.anyOf : Array.isArray(p.oneOf) ? p.oneOf : undefined;
  if (branches) {
    const types = branches.map((branch) => cellTypes(branch, root, depth + 1));
    return types.every((t) => t !== undefined) ? [...new Set(types.flat() as string[])] : undefined;
  }
  return cellTypes(resolveRef(root, p.$ref), root, depth + 1);
}

function jsonType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

/**
 * A quoted CSV cell: in a column that takes strings, its text as it is, never another type;
 * elsewhere it reads as unquoted. So `""` is an empty string, where an empty cell is no value at
 * all; `"null"` is the text null, where `null` is null; and in a column of strings and integers
 * (or booleans) `"42"` is the text, where `42` is the number.
 */
class QuotedText {
  constructor(readonly text: string) {}
}
type Cell = string | QuotedText;

async function* readRows(
  file: string,
  /** The file as the user named it (stdin is read from a temporary copy). */
  shown: string,
  format: Format,
  schema: unknown,
  meter: { bytes: number },
  /** NDJSON only by default (stdin, a name without an extension): a first line not JSON says so. */
  guessed = false,
): AsyncGenerator<Row> {
  if (format === 'json') {
    const { readFile } = await import('node:fs/promises');
    let content = await readFile(file, 'utf8');
    if (content.startsWith(BOM)) content = content.slice(1);
    // Empty, as an empty NDJSON or CSV file is: no rows, which the import says as such.
    if (content.trim() === '') return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(content);
    } catch (error) {
      // `records export` writes NDJSON, which a user may well save as `.json`.
      const hint = holdsNdjson(content)
        ? ': it holds one JSON value per line (NDJSON, as `records export` writes), not one JSON array. Import it with --format ndjson (or name it .ndjson)'
        : `: ${(error as Error).message}`;
      throw new CliFailure({
        success: false,
        error: `${shown} is not valid JSON${hint}`,
        code: 'cli_usage',
      });
    }
    if (!Array.isArray(parsed))
      throw new CliFailure({
        success: false,
        error: 'A .json import must be an array of objects',
        code: 'cli_usage',
      });
    // Each element's own text (JSON.parse would round a long integer and make 1e400 Infinity).
    for (const element of elements(content)) yield row(element.line, element.text);
    return;
  }
  if (format === 'ndjson') {
    let line = 0;
    const input = createReadStream(file);
    input.on('data', (chunk) => {
      meter.bytes += chunk.length;
    });
    for await (const read of createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY })) {
      line++;
      // A byte order mark may start any line (files joined with cat): never part of the row.
      const text = read.startsWith(BOM) ? read.slice(1) : read;
      if (text.trim() === '') continue;
      // Sent as it is in the file: the server keeps long integers' digits.
      const parsed = row(line, text);
      // A CSV or a JSON array read as NDJSON because nothing said otherwise: its first line says how.
      if (guessed && parsed.problems?.[0]?.error === 'Invalid JSON') parsed.problems = [NOT_NDJSON];
      guessed = false;
      yield parsed;
    }
    return;
  }
  const properties = ((schema as { properties?: Record<string, unknown> }).properties ?? {}) as Record<
    string,
    unknown
  >;
  const input = createReadStream(file);
  input.on('data', (chunk) => {
    meter.bytes += chunk.length;
  });
  // Rows as arrays, with where each starts: a row of the wrong width is that row's problem, not
  // the end of the import, and every problem names the file line its row starts on.
  const parser = input.pipe(
    parseCsv({
      skip_empty_lines: true,
      bom: true,
      relax_column_count: true,
      raw: true,
      // A quoted cell is text where the field takes strings (see QuotedText): `""` is an empty
      // string, an empty cell an absent field; `"null"` the text, `null` null; `"42"` the text in
      // a column of strings and integers, `42` the number.
      cast: (value, context) => (context.quoting ? new QuotedText(value) : value),
    }),
  );
  let header: string[] | undefined;
  // The line the next unread text starts on, counted from each row's raw text (the blank lines
  // skipped before it included): csv-parse's own count goes wrong on those and on a CRLF in a cell.
  let cursor = 1;
  for await (const { record, raw } of parser as AsyncIterable<{ record: Cell[]; raw: string }>) {
    const blank = /^(?:\r\n|\r|\n)*/.exec(raw)?.[0].match(LINE_BREAK)?.length ?? 0;
    const line = cursor + blank;
    cursor += raw.match(LINE_BREAK)?.length ?? 0;
    if (!header) {
      header = record.map((name) => (name instanceof QuotedText ? name.text : name));
      // Two columns of one field made one member of each row twice, and the first was lost.
      const twice = header.findIndex((name, i) => header?.indexOf(name) !== i);
      if (twice !== -1) {
        const name = header[twice] as string;
        throw new CliFailure({
          success: false,
          error: `The header row of ${shown} names ${name} twice (columns ${header.indexOf(name) + 1} and ${twice + 1}): each column must be a different field; nothing was imported`,
          code: 'cli_usage',
        });
      }
      continue;
    }
    if (record.length !== header.length) {
      yield {
        line,
        text: '',
        problems: [
          { field: '(row)', error: `Has ${record.length} fields; the header row has ${header.length}` },
        ],
      };
      continue;
    }
    const members: string[] = [];
    for (const [i, cell] of record.entries()) {
      const column = header[i] as string;
      const types = cellTypes(properties[column], schema);
      // A formula the export guarded (FORMULA): the text without its `'`, as a quoted cell.
      const value = unguarded(cell);
      const text = value instanceof QuotedText ? value.text : value;
      const typed =
        value instanceof QuotedText && (types ?? ['string']).includes('string')
          ? text
          : typedCell(text, types);
      if (typed === undefined) continue;
      // A long integer in a number column keeps its digits (Number() would round a 64-bit id).
      // (As JSON writes an integer: no leading zeros.)
      const exact =
        typed instanceof JsonCell
          ? typed.text
          : typeof typed === 'number' && /^-?\d{16,}$/.test(text.trim())
            ? BigInt(text.trim()).toString()
            : JSON.stringify(typed);
      members.push(`${JSON.stringify(column)}:${exact}`);
    }
    yield row(line, `{${members.join(',')}}`);
  }
}

function unguarded(cell: Cell): Cell {
  const text = cell instanceof QuotedText ? cell.text : cell;
  return GUARDED.test(text) ? new QuotedText(text.slice(1)) : cell;
}

/** The most row text one import request carries: under the management API's 5 MiB body limit. */
const BATCH_BYTES = 4 * 1024 * 1024;

function batchSizeOption(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1 || n > 5000) {
    throw new InvalidArgumentError('--batch must be an integer from 1 to 5000');
  }
  return n;
}

interface ImportResult {
  imported: number;
  rejected: number;
  errors: Array<{ index: number; details: Array<{ field: string; error: string }> }>;
}

/**
 * `--env`, checked before anything is read or sent: an import whose rows were all refused here
 * sends no request, so the server never said that `--env prod` is no environment (it printed
 * "Imported 0 of 1 rows into orders (prod)").
 */
function testOrLiveOption(): Option {
  return environmentOption('test or live').default('test');
}

export function registerRecordsCommands(program: Command, config: Config): void {
  const records = program.command('records').description('bulk import and export of an endpoint’s records');

  withCommon(
    records
      .command('import')
      .argument('<endpoint>', 'the endpoint’s slug')
      .argument('<file>', 'the file; - reads stdin (NDJSON unless --format says otherwise)')
      .description(
        'import NDJSON, a JSON array or CSV (header row); exits 2 when some rows were rejected (listed with their lines), 1 when the file holds no records',
      ),
    // It prints the import's summary, not an API response.
    'print the summary as JSON: {"imported","rejected","rows","seconds","problems":[{"line","details"}]}; errors as the error envelope',
  )
    .addOption(testOrLiveOption())
    .option(
      '--format <format>',
      'ndjson, json (one array) or csv (default: from the file name: .csv, .json, or ndjson for .ndjson, .jsonl, no extension and stdin, as records export writes)',
    )
    .option(
      '--strict',
      'check the whole file first: if any row is invalid, import nothing and exit 1 (validation_failed)',
    )
    .option('--webhooks', 'fire webhooks for imported records (off by default)')
    .option('--batch <n>', 'rows per transaction, 1-5000', batchSizeOption, 1000)
    .action(
      async (
        slug: string,
        file: string,
        o: {
          env: string;
          format?: string;
          strict?: boolean;
          webhooks?: boolean;
          batch: number;
          json?: boolean;
          url?: string;
          token?: string;
        },
      ) => {
        // `-`: stdin, kept in a private temporary file first (the import reads it twice with
        // --strict, and measures it for its progress line).
        let spooled: string | undefined;
        const shown = file === '-' ? 'stdin' : file;
        let failure: { error: unknown } | undefined;
        /** Rows the server has said it imported (batches already committed). */
        let imported = 0;
        // Ctrl-C: Node's default would end the process at once, leaving the copy of stdin in
        // the temporary folder and saying nothing of the batches already committed.
        const interrupted = () => {
          if (spooled) rmSync(spooled, { recursive: true, force: true });
          process.stderr.write(
            `\nInterrupted: ${imported.toLocaleString()} row${imported === 1 ? ' was' : 's were'} imported into ${slug} (${o.env}) before it, perhaps also the batch being sent; the rest were not.\n`,
          );
          process.exit(130);
        };
        process.once('SIGINT', interrupted);
        try {
          checkReadable(file);
          const format = formatOf(file, o.format);
          // NDJSON by default (stdin, no extension), not from --format or an .ndjson name.
          const guessed = o.format === undefined && !/\.(ndjson|jsonl)$/i.test(file);
          const call = managementClient(config, o);
          const path = endpointPath(slug);
          const endpoint = await call<EndpointJson>('GET', path);
          // CSV cells are typed by the schema the rows are checked against: the deployed one for live.
          let schema = endpoint.schema;
          if (format === 'csv' && o.env === 'live' && endpoint.live_version !== null) {
            const versions = await call<EndpointVersionJson[]>('GET', `${path}/versions`);
            schema = versions.find((v) => v.version === endpoint.live_version)?.schema ?? schema;
          }
          if (file === '-') {
            spooled = await mkdtemp(join(tmpdir(), 'gatehouse-import-'));
            file = join(spooled, `stdin.${format}`);
            await pipeline(process.stdin, createWriteStream(file, { mode: 0o600 }));
          }
          const bad = await firstNonUtf8Line(file);
          if (bad !== undefined) {
            throw new CliFailure({
              success: false,
              error: `${shown} is not UTF-8 text (line ${bad}): save it as UTF-8 and import it again; nothing was imported`,
              code: 'cli_usage',
            });
          }
          const size = statSync(file).size;
          const batchSize = o.batch;
          const qs = `environment=${encodeURIComponent(o.env)}${o.webhooks ? '&webhooks=true' : ''}`;
          const problems = firstProblems<{ line: number; details: Array<{ field: string; error: string }> }>(
            MAX_PROBLEMS,
          );
          /** Every row rejected; `problems` keeps the first of those listed (the server lists 1 000 per batch). */
          let rejected = 0;
          let seen = 0;
          const started = Date.now();
          const meter = { bytes: 0 };
          const bytesRead = () => (format === 'json' ? size : meter.bytes);
          const progress = (done: boolean) => {
            if (o.json) return;
            const seconds = (Date.now() - started) / 1000;
            const rate = seen / Math.max(seconds, 0.001);
            // ETA from the share of the file read so far.
            const read = bytesRead();
            const eta = !done && read > 0 ? ((size - read) / read) * seconds : 0;
            const text = `imported ${imported.toLocaleString()} of ${seen.toLocaleString()} rows, ${Math.round(rate).toLocaleString()} rows/s${done ? '' : `, ETA ${Math.ceil(eta)} s`}`;
            process.stderr.write(process.stderr.isTTY ? `\r${text}` : `${text}\n`);
          };
          /** Sends one batch (`dryRun`: only checked); its problems are kept with their file lines. */
          const send = async (rows: Row[], dryRun: boolean) => {
            for (const r of rows) if (r.problems) problems.add({ line: r.line, details: r.problems });
            const valid = rows.filter((r) => !r.problems);
            rejected += rows.length - valid.length;
            if (valid.length === 0) return;
            const result = await call<ImportResult>(
              'POST',
              endpointPath(slug, `/import?${qs}${dryRun ? '&dry_run=true' : o.strict ? '&strict=true' : ''}`),
              // Each row as its own text: JSON.parse would round a 64-bit id, and the server keeps
              // such numbers as sent.
              new JsonText(`{"records":[${valid.map((r) => r.text).join(',')}]}`),
            );
            imported += result.imported;
            rejected += result.rejected;
            for (const e of result.errors)
              problems.add({ line: valid[e.index]?.line ?? 0, details: e.details });
          };
          /**
           * Every row of the file, `batchSize` at a time, and never more than BATCH_BYTES in one
           * request (the management API takes bodies up to 5 MiB: large rows make smaller batches).
           */
          const pass = async (dryRun: boolean) => {
            let batch: Row[] = [];
            let bytes = 0;
            const flush = async () => {
              await send(batch, dryRun);
              batch = [];
              bytes = 0;
              if (!dryRun) progress(false);
            };
            for await (const row of readRows(file, shown, format, schema, meter, guessed)) {
              if (!dryRun) seen++;
              const rowBytes = Buffer.byteLength(row.text) + 1;
              if (batch.length > 0 && bytes + rowBytes > BATCH_BYTES) await flush();
              batch.push(row);
              bytes += rowBytes;
              if (batch.length >= batchSize) await flush();
            }
            if (batch.length > 0) await send(batch, dryRun);
          };
          if (o.strict) {
            // The whole file is checked before anything is written: one bad row anywhere, no import.
            await pass(true);
            if (problems.held > 0) {
              throw new CliFailure({
                success: false,
                error: `${rejected} row${rejected === 1 ? ' is' : 's are'} invalid; nothing was imported`,
                code: 'validation_failed',
                details: problems
                  .list()
                  .slice(0, 100)
                  .flatMap((p) =>
                    p.details.map((d) => ({ field: `line ${p.line}: ${d.field}`, error: d.error })),
                  ),
              });
            }
            meter.bytes = 0;
            rejected = 0;
          }
          try {
            await pass(false);
          } catch (error) {
            // Batches before the failing one are committed: say how far it got, so a rerun can
            // start after them (the rows would otherwise be imported twice).
            if (error instanceof CliFailure && imported > 0) {
              throw new CliFailure({
                ...error.envelope,
                error: `${error.envelope.error}. ${imported.toLocaleString()} row${imported === 1 ? ' was' : 's were'} imported before this; the rows after them were not`,
              });
            }
            throw error;
          }
          // An empty file, a CSV header alone, `[]`: nothing read, so nothing sent. Said as a
          // failure: "Imported 0 of 0 rows" and exit 0 read as an import that went well.
          if (seen === 0) {
            throw new CliFailure({
              success: false,
              error: `${shown} holds no records: nothing was imported`,
              code: 'cli_usage',
            });
          }
          if (!o.json && process.stderr.isTTY) {
            progress(true);
            process.stderr.write('\n');
          }
          const listed = problems.list();
          const summary = {
            imported,
            rejected,
            rows: seen,
            seconds: (Date.now() - started) / 1000,
            problems: listed,
          };
          if (o.json) printJson({ success: true, data: summary });
          else {
            process.stdout.write(`Imported ${imported} of ${seen} rows into ${slug} (${o.env}).\n`);
            for (const p of listed.slice(0, 50)) {
              process.stdout.write(
                `  line ${p.line}: ${p.details.map((d) => `${d.field}: ${d.error}`).join('; ')}\n`,
              );
            }
            const shown = Math.min(listed.length, 50);
            if (rejected > shown) process.stdout.write(`  … and ${rejected - shown} more\n`);
          }
          if (rejected > 0) process.exitCode = 2;
        } catch (error) {
          failure = { error };
        } finally {
          process.off('SIGINT', interrupted);
          if (spooled) await rm(spooled, { recursive: true, force: true });
        }
        // Said after the clean-up: reportFailure ends the process.
        if (failure) reportFailure(failure.error, o.json === true);
      },
    );

  withCommon(
    records
      .command('export')
      .argument('<endpoint>', 'the endpoint’s slug')
      .description(
        "every record’s data to stdout: NDJSON as stored, or CSV (the environment’s schema’s columns, then any other field; a string a spreadsheet would run as a formula, =…, +…, -…, @…, gets a leading ', which records import takes off)",
      ),
    'errors as the JSON envelope (the records are NDJSON or CSV either way)',
  )
    .addOption(testOrLiveOption())
    .option('--format <format>', 'ndjson or csv', 'ndjson')
    .action(
      async (
        slug: string,
        o: { env: string; format: string; json?: boolean; url?: string; token?: string },
      ) => {
        try {
          if (o.format !== 'ndjson' && o.format !== 'csv') {
            throw new CliFailure({ success: false, error: 'Use --format ndjson or csv', code: 'cli_usage' });
          }
          const call = managementClient(config, o);
          const path = endpointPath(slug);
          const endpoint = await call<EndpointJson>('GET', path);
          // CSV columns: the environment's schema, the draft for test, the deployed version for live.
          let schema = endpoint.schema;
          if (o.format === 'csv' && o.env === 'live' && endpoint.live_version !== null) {
            const versions = await call<EndpointVersionJson[]>('GET', `${path}/versions`);
            schema = versions.find((v) => v.version === endpoint.live_version)?.schema ?? schema;
          }
          const response = await call<Response>(
            'GET',
            `${path}/export?environment=${encodeURIComponent(o.env)}`,
            undefined,
            true,
          );
          const body = Readable.fromWeb(response.body as import('node:stream/web').ReadableStream);
          // The connection closing mid-export (the server stopped, a proxy timed out) is said as
          // such, with how far it got, not as an uncaught stream error.
          let records: number | undefined;
          let cut: Error | undefined;
          body.on('error', (error: Error) => {
            cut ??= error;
          });
          try {
            if (o.format === 'ndjson') {
              records = 0;
              body.on('data', (chunk: Buffer) => {
                for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1))
                  records = (records ?? 0) + 1;
              });
              await new Promise<void>((resolve, reject) => {
                body.on('error', reject);
                body.on('end', resolve);
                body.pipe(process.stdout, { end: false }).on('error', reject);
              });
            } else {
              await writeCsv(body, schema);
            }
          } catch (error) {
            if (!cut) throw error;
            const far =
              records === undefined
                ? ''
                : ` after ${records.toLocaleString()} record${records === 1 ? '' : 's'}`;
            throw new CliFailure({
              success: false,
              error: `The export was cut off${far}: the connection closed (${cut.message}). Export again`,
              code: 'cli_unreachable',
            });
          }
        } catch (error) {
          reportFailure(error, o.json === true);
        }
      },
    );
}

/**
 * Exported NDJSON as CSV: the schema's properties first, then every other field any record
 * holds (a record may carry fields its schema does not declare, or an older version's), in the
 * order first seen; so the records pass once through a temporary file to find the columns.
 * Numbers keep their digits (a 64-bit id is not rounded); objects and arrays are JSON.
 */
async function writeCsv(body: Readable, schema: unknown): Promise<void> {
  const properties = ((schema as { properties?: Record<string, unknown> } | null)?.properties ??
    {}) as Record<string, unknown>;
  const declared = Object.keys(properties);
  const dir = await mkdtemp(join(tmpdir(), 'gatehouse-export-'));
  const spool = join(dir, 'records.ndjson');
  const file = createWriteStream(spool, { mode: 0o600 });
  // A write error (a full disk) ends the export with that error, never an uncaught one.
  const failed = new Promise<never>((_, reject) => file.once('error', reject));
  failed.catch(() => {});
  try {
    const columns = new Set(declared);
    for await (const text of createInterface({ input: body, crlfDelay: Number.POSITIVE_INFINITY })) {
      if (text.trim() === '') continue;
      for (const name of Object.keys(parseExact(text) as object)) columns.add(name);
      if (!file.write(`${text}\n`)) await Promise.race([once(file, 'drain'), failed]);
    }
    await Promise.race([new Promise<void>((resolve) => file.end(resolve)), failed]);
    const names = [...columns];
    const types = names.map((name) => cellTypes(properties[name], schema));
    // An empty string as `""`: an empty cell is a field the record does not have. A string that
    // reads as null as `"null"`: `null` is null (csvCell leaves null to `cast.null`). A string
    // that would read back as another type its column takes is quoted too (`"42"` where the
    // field takes strings and integers): see QuotedText.
    // Blanks at either end quoted too: a spreadsheet or another reader may trim them.
    const out = stringifyCsv({
      header: names.length > 0,
      columns: names,
      quoted_match: [/^$/, /^\s|\s$/],
      cast: {
        null: () => 'null',
        string: (value) => (NULL_CELL.test(value) ? { value, quoted: true } : value),
        object: (value) => ({ value: (value as unknown as QuotedText).text, quoted: true }),
      },
    });
    out.pipe(process.stdout);
    const input = createReadStream(spool);
    for await (const text of createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY })) {
      const data = parseExact(text) as Record<string, unknown>;
      const cells = names.map((name, i) => {
        const value = data[name];
        if (typeof value === 'string' && FORMULA.test(value)) return new QuotedText(`'${value}`);
        // (`""` is quoted by quoted_match: the stringifier leaves an empty value unquoted.)
        return typeof value === 'string' && value !== '' && typedCell(value, types[i]) !== value
          ? new QuotedText(value)
          : csvCell(value);
      });
      if (!out.write(cells)) await once(out, 'drain');
    }
    out.end();
    await once(out, 'finish');
  } finally {
    file.destroy();
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * A cell's text: strings as they are, numbers (bigints too) and booleans as JSON writes them;
 * null stays null, for the stringifier to write `null` where it quotes a string `"null"`.
 */
function csvCell(value: unknown): string | null | undefined {
  if (value === undefined || value === null) return value;
  if (typeof value === 'string') return value;
  if (typeof value === 'bigint') return value.toString();
  return stringifyExact(value);
}
