import cluster from 'node:cluster';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { type Command, InvalidArgumentError } from 'commander';
import type { Services } from '../app.ts';
import { type Config, ConfigError, type DatabaseConfig, withoutPassword } from '../config.ts';
import { ApiError } from '../errors.ts';
import { onStopSignals } from '../server/signals.ts';
import { readCredentials } from './client.ts';
import { typedFields } from './option-fields.ts';
import {
  CliFailure,
  type ErrorEnvelope,
  failureEnvelope,
  printFields,
  printJson,
  reportFailure,
} from './output.ts';
import { runningServer, withdrawServer } from './running-server.ts';

/**
 * Where the CLI finds its token and server from now on (mode 0600: it holds a secret). The server
 * is, unless given: GATEHOUSE_URL, else the running server this directory recorded (it may listen
 * on another PORT than this shell's), else HOST:PORT.
 */
export function saveCredentials(
  config: Config,
  token: string,
  url = config.apiUrl ?? runningServer(config)?.url ?? config.localUrl,
): string {
  mkdirSync(dirname(config.cliCredentialsPath), { recursive: true, mode: 0o700 });
  writeFileSync(config.cliCredentialsPath, JSON.stringify({ url, token }), {
    mode: 0o600,
  });
  chmodSync(config.cliCredentialsPath, 0o600);
  return url;
}

/**
 * Whether the server at `url` knows the token init just made: false when it refuses it (401),
 * undefined when it gives no clear answer (not running, slow, something else there). init writes
 * to the database of its own DATABASE_URL; a server running on another one would refuse every
 * later command with "Unknown or revoked management token", which does not say why.
 */
async function serverKnows(url: string, token: string): Promise<boolean | undefined> {
  try {
    const res = await fetch(new URL('/admin/v1/tokens', url), {
      headers: { authorization: `Bearer ${token}` },
      signal: AbortSignal.timeout(2_000),
    });
    await res.body?.cancel();
    if (res.status === 401) return false;
    return res.ok ? true : undefined;
  } catch {
    return undefined;
  }
}

/** The database as a message names it: a SQLite file by its absolute path, PostgreSQL without its password. */
function databaseName(database: DatabaseConfig): string {
  return database.kind === 'sqlite' ? `sqlite:${resolve(database.path)}` : withoutPassword(database.url);
}

/**
 * Where the token was saved, and which later commands find it there. The place is the folder the
 * CLI runs in (`./data`), whatever DATABASE_URL says: servers started from that folder record their
 * address beside it (running-server.ts), so one folder is one installation to the CLI, and two on
 * one machine (a SQLite trial, a PostgreSQL one) do not overwrite each other's token.
 */
export function savedWhere(config: Config): { path: string; hint: string } {
  const path = resolve(config.cliCredentialsPath);
  const hint = isAbsolute(config.cliCredentialsPath)
    ? 'CLI commands given the same GATEHOUSE_CLI_CREDENTIALS find it'
    : `CLI commands run from ${process.cwd()} find it; from elsewhere, set GATEHOUSE_CLI_CREDENTIALS=${path} (or GATEHOUSE_TOKEN)`;
  return { path, hint };
}

const runtime = () => import('./server-runtime.ts');

async function runUntilSignal<T extends { stop(): Promise<void> }>(
  start: () => Promise<T>,
  shutdownDelayMs: number,
  /** What stopping waits for, as the log line names it: a worker has no requests, only attempts. */
  inFlight = 'requests',
): Promise<T> {
  const server = await start();
  // Only a terminal can send the Ctrl-C the first line offers; a supervisor (systemd) cannot.
  const terminal = process.stdin.isTTY === true;
  let signalled = false;
  let hurried = false;
  const shutdown = (signal: 'SIGTERM' | 'SIGINT') => {
    if (!signalled) {
      signalled = true;
      process.stderr.write(
        shutdownDelayMs > 0
          ? `${signal}: serving ${shutdownDelayMs} ms more with /ready answering 503${terminal ? ' (Ctrl-C to skip that)' : ''}, then finishing in-flight ${inFlight} and exiting\n`
          : `${signal}: finishing in-flight ${inFlight}, then exiting\n`,
      );
      server.stop().then(
        () => process.exit(0),
        () => process.exit(1),
      );
      return;
    }
    // A repeated SIGTERM (systemd signals every process; npm passes it on) changes nothing. In a
    // terminal, a second Ctrl-C ends the shutdown delay, a third quits at once without draining.
    if (signal === 'SIGTERM') return;
    if (!hurried) {
      hurried = true;
      if (shutdownDelayMs > 0) {
        process.stderr.write('SIGINT again: ending the shutdown delay (once more to quit at once)\n');
      }
      void server.stop();
      return;
    }
    process.stderr.write('SIGINT a third time: quitting without draining\n');
    process.exit(130);
  };
  onStopSignals(shutdown);
  return server;
}

/**
 * `--json` on a command that runs until stopped: once it serves, one line of JSON on stdout (the
 * logs stay on stderr), so a script can wait for it and read where it listens.
 */
function announceReady(json: boolean, data: Record<string, unknown>): void {
  if (json) process.stdout.write(`${JSON.stringify({ success: true, data })}\n`);
}

/** What a `--workers` worker that could not start tells its primary, which says it once. */
const START_FAILED = 'gatehouse:start-failed';
interface StartFailure {
  kind: typeof START_FAILED;
  error: string;
  code: ErrorEnvelope['code'];
}

function printFailureLine(error: string, code: ErrorEnvelope['code']): void {
  process.stdout.write(`${JSON.stringify(failureEnvelope({ success: false, error, code }))}\n`);
}

/**
 * Such a command that could not start: with `--json` the error envelope, on one line too;
 * without, `plain` on stderr. Exits 1. A cluster's worker leaves the envelope to its primary, so
 * that N workers failing alike print one line.
 */
function failedToStart(json: boolean, error: string, code: ErrorEnvelope['code'], plain: string): void {
  if (!json) process.stderr.write(`${plain}\n`);
  if (cluster.isWorker && process.send) {
    const failure: StartFailure = { kind: START_FAILED, error, code };
    process.send(failure, () => process.exit(1));
    return;
  }
  if (json) printFailureLine(error, code);
  process.exit(1);
}

function workerCount(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1 || n > 64) {
    throw new InvalidArgumentError('--workers must be an integer from 1 to 64');
  }
  return n;
}

/**
 * A configuration mistake found while starting (a wrong GATEHOUSE_SECRET), or with `config` the
 * machine's setup (startupMistake: a full disk, a damaged SQLite file): one line, exit 1.
 */
async function refuseBadConfig(running: Promise<unknown>, json: boolean, config?: Config): Promise<void> {
  try {
    await running;
  } catch (error) {
    const mistake = config && startupMistake(error, config);
    if (mistake) return failedToStart(json, mistake, 'config_error', mistake);
    if (!(error instanceof ConfigError)) throw error;
    failedToStart(json, error.message, error.code, `Error: ${error.message} (${error.code})`);
  }
}

/** One process, or a cluster: N HTTP processes, the webhook worker (if any) in the primary. */
async function run(
  config: Config,
  workers: number,
  withWebhookWorker: boolean,
  json: boolean,
): Promise<void> {
  try {
    await runServers(config, workers, withWebhookWorker, json);
  } catch (error) {
    // An operator's mistake, not a crash: the message says what to do, without a stack trace.
    const { InstanceLockedError } = await runtime();
    const locked = error instanceof InstanceLockedError;
    const message = locked ? error.message : startupMistake(error, config);
    if (message === undefined) return refuseBadConfig(Promise.reject(error), json);
    failedToStart(json, message, locked ? 'cli_error' : 'config_error', message);
  }
}

/**
 * What went wrong at start, in one line, when it is the machine's setup rather than a fault:
 * the address to listen on, or the SQLite file and its folder. Undefined for anything else.
 */
function startupMistake(error: unknown, config: Config): string | undefined {
  const e = error as NodeJS.ErrnoException;
  const listen = `${config.host}:${config.port}`;
  if (e.syscall === 'listen' || e.code === 'EADDRINUSE' || e.code === 'EADDRNOTAVAIL') {
    const why: Record<string, string> = {
      EADDRINUSE: 'is in use',
      EACCES: 'needs privileges',
      EADDRNOTAVAIL: 'is not on this machine',
    };
    return `Cannot listen on ${listen}: the address ${why[e.code ?? ''] ?? 'cannot be used'} (${e.code}). Set PORT (and HOST) to another.`;
  }
  if (e.syscall === 'getaddrinfo')
    return `Cannot listen on ${listen}: HOST is not a name this machine resolves (${e.code}).`;
  if (config.database.kind !== 'sqlite') return undefined;
  const file = config.database.path;
  if (typeof e.syscall === 'string' && typeof e.path === 'string') {
    return `Cannot use ${e.path} for the database ${file}: ${e.code} (${e.syscall}). Check that its folder exists or can be made, and is writable by this user.`;
  }
  // better-sqlite3's SqliteError, thrown as is or as the cause of a failed migration.
  const sqlite = [e, e.cause as NodeJS.ErrnoException | undefined].find((x) => x?.name === 'SqliteError');
  const code = String(sqlite?.code);
  if (/^SQLITE_(CANTOPEN|NOTADB|READONLY|PERM|AUTH)/.test(code)) {
    return `Cannot open the SQLite database ${file}: ${sqlite?.message} (${code}). DATABASE_URL must name a Gatehouse database file (or a new one) in a folder this user can write.`;
  }
  // A disk full to the last byte fails earlier, when SQLite sizes the -shm beside the file.
  if (/^SQLITE_(FULL|IOERR_SHMSIZE)/.test(code)) {
    return `Cannot start on the SQLite database ${file}: its disk is full (${code}). Free space there, then start again.`;
  }
  if (/^SQLITE_CORRUPT/.test(code)) {
    return `The SQLite database ${file} is damaged (${sqlite?.message}, ${code}): stop every Gatehouse process on it and put the latest backup back with gatehouse restore <backup file> (docs/DEPLOY.md, Backups).`;
  }
  return undefined;
}

async function runServers(
  config: Config,
  workers: number,
  withWebhookWorker: boolean,
  json: boolean,
): Promise<void> {
  const {
    claimSqliteServer,
    createLogger,
    createServices,
    runCluster,
    shareLimitsAcrossWorkers,
    startServer,
    startWorker,
    warnAboutSecret,
  } = await runtime();
  const ready = (url: string) =>
    announceReady(json, {
      url,
      pid: process.pid,
      workers,
      database: config.database.kind,
      webhook_worker: withWebhookWorker,
    });
  if (workers <= 1) {
    const server = await runUntilSignal(
      () => startServer(config, { worker: withWebhookWorker }),
      config.shutdownDelayMs,
    );
    ready(server.url);
    return;
  }
  const log = (message: string) => process.stderr.write(`${message}\n`);
  // The first worker's reason for not starting, said once by the primary (failedToStart).
  let failure: StartFailure | undefined;
  if (cluster.isPrimary) {
    cluster.on('message', (_worker, message: unknown) => {
      if ((message as { kind?: string } | null)?.kind === START_FAILED) failure ??= message as StartFailure;
    });
  }
  await runCluster({
    workers,
    log,
    couldNotStart: (reason) => {
      if (json) printFailureLine(failure?.error ?? reason, failure?.code ?? 'cli_error');
    },
    ready: (port) => ready(`http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`),
    startWorker: () => startServer(config, { worker: false }),
    async startPrimary() {
      // The cluster is the file's one server: its workers share the file, nobody else.
      const lock = claimSqliteServer(config);
      // Counters live in the primary when there is no Redis, so N processes enforce one limit.
      shareLimitsAcrossWorkers();
      // Migrate once, before any worker opens the database; then run the webhook worker here.
      const primary = withWebhookWorker ? await startWorker(config) : undefined;
      if (!withWebhookWorker) {
        const services = await createServices(config);
        warnAboutSecret(services, createLogger(config.logLevel));
        await services.close();
      }
      cluster.on('message', (_worker, message: unknown) => {
        if ((message as { kind?: string } | null)?.kind === 'gatehouse:commit') primary?.wake();
      });
      return {
        stop: async () => {
          // The workers announced the primary's pid: the record goes with the primary.
          withdrawServer(config, process.pid);
          await primary?.stop();
          lock?.release();
        },
      };
    },
  });
}

/** Reads a line from the terminal without echoing it. */
export function readHidden(prompt: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const stdin = process.stdin;
    let value = '';
    const finish = () => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write('\n');
    };
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n') {
          finish();
          return resolve(value);
        }
        if (ch === '\u0003' || ch === '\u0004') {
          finish();
          return reject(new CliFailure({ success: false, error: 'Cancelled', code: 'cli_usage' }));
        }
        if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
        else if (ch >= ' ') value += ch;
      }
    };
    // Echo off before the prompt shows: whatever is typed after it is never echoed.
    stdin.setRawMode(true);
    stdin.setEncoding('utf8');
    stdin.on('data', onData);
    stdin.resume();
    process.stderr.write(prompt);
  });
}

/** `init` without --password: asked twice in a terminal (not echoed); elsewhere a usage error. */
async function askPassword(json: boolean, label: string): Promise<string> {
  try {
    if (!process.stdin.isTTY) {
      throw new CliFailure({
        success: false,
        error: '--password is required when not run in a terminal (in one, it is asked for)',
        code: 'cli_usage',
      });
    }
    const first = await readHidden(`${label} (at least 8 characters): `);
    const again = await readHidden('Same password again: ');
    if (first !== again) {
      throw new CliFailure({ success: false, error: 'The two passwords differ', code: 'cli_usage' });
    }
    return first;
  } catch (error) {
    reportFailure(error, json);
  }
}

/**
 * A command that works on the database itself (`init`, `reset-password`): opens it, runs `work`,
 * and says what went wrong in one line (the API's code for a refusal), then closes it.
 */
async function withDatabase(
  config: Config,
  json: boolean,
  work: (services: Services) => Promise<void>,
  /** The command run, so that a refused field is named by the option typed (`--password`). */
  command: Command,
): Promise<void> {
  let services: Services & { close(): Promise<void> };
  try {
    services = await (await runtime()).createServices(config);
  } catch (error) {
    // An unusable database path is the machine's setup, said in one line as `start` says it.
    const message = startupMistake(error, config);
    if (message === undefined) throw error;
    reportFailure(new CliFailure({ success: false, error: message, code: 'config_error' }), json);
  }
  try {
    await work(services);
  } catch (error) {
    if (error instanceof ApiError) {
      reportFailure(
        new CliFailure({
          success: false,
          error: error.message,
          code: error.code,
          details: error.details ?? [],
        }),
        json,
        typedFields(command),
      );
    }
    reportFailure(error, json);
  } finally {
    await services.close();
  }
}

export function registerServerCommands(program: Command, config: Config): void {
  program
    .command('init')
    .description('create the first owner and print a management token (once)')
    .requiredOption('--email <email>', 'owner email')
    .option(
      '--password <password>',
      'owner password (at least 8 characters); asked for when omitted in a terminal',
    )
    .option('--json', 'print JSON')
    .action(async (options: { email: string; password?: string; json?: boolean }, command: Command) => {
      const json = options.json === true;
      const password = options.password ?? (await askPassword(json, 'Owner password'));
      await withDatabase(
        config,
        json,
        async (services) => {
          const result = await services.owners.init({ email: options.email, password });
          // Another installation's saved token (init run before with another DATABASE_URL) is
          // replaced: said, with the way back to it.
          const replaced = readCredentials(config.cliCredentialsPath);
          const url = saveCredentials(config, result.token);
          const saved = savedWhere(config);
          if ((await serverKnows(url, result.token)) === false) {
            process.stderr.write(
              `Warning: the server at ${url} does not know this token: it runs on another database than the one init wrote to (${databaseName(config.database)}). Run init with the DATABASE_URL that server was started with, or start the server with this one.\n`,
            );
          }
          if (json) printJson({ success: true, data: { ...result, cli_credentials: saved.path } });
          else {
            printFields({ owner: result.owner.email, role: result.owner.role, token: result.token });
            process.stdout.write(
              `\nThis management token is shown once. The CLI saved it in ${saved.path} (mode 0600): ${saved.hint}.\n`,
            );
            if (replaced) {
              process.stdout.write(
                `It replaced the token saved there for ${replaced.url}; to reach that installation again: gatehouse login --email … --url ${replaced.url}\n`,
              );
            }
          }
        },
        command,
      );
    });

  program
    .command('reset-password')
    .description(
      "set a dashboard user's password, run where the database is (a forgotten one); ends their sessions and revokes their management tokens",
    )
    .requiredOption('--email <email>', "the user's email")
    .option(
      '--password <password>',
      'the new password (at least 8 characters); asked for when omitted in a terminal',
    )
    .option(
      '--keep-tokens',
      "keep the user's management tokens (the password was only forgotten, not leaked)",
    )
    .option('--json', 'print JSON')
    .action(
      async (
        options: { email: string; password?: string; keepTokens?: boolean; json?: boolean },
        command: Command,
      ) => {
        const json = options.json === true;
        const password = options.password ?? (await askPassword(json, 'New password'));
        await withDatabase(
          config,
          json,
          async (services) => {
            const user = await services.users.resetPassword(options.email, password, {
              keepTokens: options.keepTokens === true,
            });
            if (json) printJson({ success: true, data: user });
            else {
              printFields({
                user: user.email,
                role: user.role,
                sessions_ended: user.sessions_ended,
                tokens_revoked: user.tokens_revoked,
              });
              process.stdout.write(
                options.keepTokens === true
                  ? '\nThe password is set. Management tokens stay: revoke a leaked one in the dashboard.\n'
                  : '\nThe password is set. Scripts and machines that used a revoked token need a new one: gatehouse login.\n',
              );
            }
          },
          command,
        );
      },
    );

  program
    .command('start')
    .description('run the API, dashboard and webhook worker (one process, or --workers N HTTP processes)')
    .option('--workers <n>', 'HTTP processes sharing the port (default: GATEHOUSE_WORKERS or 1)', workerCount)
    .option(
      '--json',
      'once serving, print one line of JSON (url, pid) on stdout; failures as the error envelope',
    )
    .action((options: { workers?: number; json?: boolean }) =>
      run(config, options.workers ?? config.workers, true, options.json === true),
    );

  program
    .command('serve')
    .description('run the API only (run webhook workers with "gatehouse worker")')
    .option('--workers <n>', 'HTTP processes sharing the port (default: GATEHOUSE_WORKERS or 1)', workerCount)
    .option(
      '--json',
      'once serving, print one line of JSON (url, pid) on stdout; failures as the error envelope',
    )
    .action((options: { workers?: number; json?: boolean }) =>
      run(config, options.workers ?? config.workers, false, options.json === true),
    );

  program
    .command('worker')
    .description('run the webhook worker only: processes the outbox and delivers webhooks')
    .option('--json', 'once running, print one line of JSON (pid) on stdout; failures as the error envelope')
    .action(async (options: { json?: boolean }) => {
      const json = options.json === true;
      // No HTTP, no load balancer to wait for: the shutdown delay is the API servers'.
      await refuseBadConfig(
        runUntilSignal(async () => (await runtime()).startWorker(config), 0, 'webhook attempts'),
        json,
        config,
      );
      announceReady(json, { pid: process.pid, database: config.database.kind });
    });
}
