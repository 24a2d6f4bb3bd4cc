import cluster from 'node:cluster';
import { resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { buildApp, createServices, type Services } from '../app.ts';
import { announceServer, withdrawServer } from '../cli/running-server.ts';
import { type Config, DEFAULT_SQLITE_PATH } from '../config.ts';
import { claimSqliteInstance, type InstanceLock } from '../infra/db/instance-lock.ts';
import { MIN_SECRET_LENGTH } from '../infra/installation-secret.ts';
import { createLogger } from '../infra/logger.ts';
import { badPortWarning } from './fetch-bad-ports.ts';

export interface RunningServer {
  app: FastifyInstance;
  services: Services;
  url: string;
  /**
   * Stops: waits out GATEHOUSE_SHUTDOWN_DELAY_MS still serving (`/ready` answers 503), then stops
   * accepting and finishes what is in flight. Called again while it waits, it ends the wait.
   */
  stop(): Promise<void>;
}

export interface ServerOptions {
  /** Run the webhook worker in this process too (`start`); `serve` runs the API alone. */
  worker: boolean;
}

/**
 * Opens the database, builds the app and listens. `stop` (SIGTERM) stops accepting, finishes the
 * requests in flight, then the webhook attempts in flight, then closes the database.
 */
export async function startServer(
  config: Config,
  options: ServerOptions = { worker: true },
): Promise<RunningServer> {
  const logger = createLogger(config.logLevel);
  // A cluster's HTTP processes share the file by design: their primary holds the lock.
  const lock = cluster.isWorker ? undefined : claimSqliteServer(config);
  const services = await createServices(config, { logger }).catch((error: unknown) => {
    lock?.release();
    throw error;
  });
  if (lock) services.database.dialect.claimSoleWriter?.();
  let draining = false;
  const app = buildApp(services, { logger, draining: () => draining });
  const worker = options.worker ? services.webhooks.createWorker(logger) : undefined;
  try {
    if (!(await services.writer.warm())) {
      logger.warn('The SQLite write thread did not start: writes commit on the event loop (slower)');
    }
    services.writer.onThreadStopped((err) =>
      logger.error({ err }, 'The SQLite write thread stopped: writes now commit on the event loop (slower)'),
    );
    await app.listen({ port: config.port, host: config.host });
  } catch (error) {
    await services.close();
    lock?.release();
    throw error;
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  const url = `http://${host}:${port}`;
  warnAboutSecret(services, logger);
  const badPort = badPortWarning(port);
  if (badPort && (cluster.worker?.id ?? 1) === 1) logger.warn(badPort);
  if (!(await services.owners.hasOwner())) logger.warn(noOwnerYet(config));
  // Once per start: under --workers N the first worker says it for all (they share the primary's counts).
  if (config.database.kind !== 'sqlite' && !config.redisUrl && (cluster.worker?.id ?? 1) === 1) {
    logger.warn(ALONE_ON_POSTGRES);
  }
  worker?.start();
  // So the CLI, run from the same directory, finds this server whatever its PORT.
  const owner = cluster.isWorker ? process.ppid : process.pid;
  announceServer(config, url.replace('//0.0.0.0:', '//127.0.0.1:').replace('//[::]:', '//[::1]:'), owner);
  logger.info(
    { url, database: services.database.dialect.name, worker: Boolean(worker) },
    `Gatehouse listening on ${url}`,
  );
  let stopping: Promise<void> | null = null;
  let endDrain: (() => void) | undefined;
  return {
    app,
    services,
    url,
    stop() {
      if (stopping) {
        endDrain?.();
        return stopping;
      }
      stopping = (async () => {
        if (!cluster.isWorker) withdrawServer(config, owner);
        if (config.shutdownDelayMs > 0) {
          draining = true;
          logger.info(
            { delay_ms: config.shutdownDelayMs },
            'Stopping: /ready answers 503 while this server goes on serving for the shutdown delay',
          );
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, config.shutdownDelayMs);
            endDrain = () => {
              clearTimeout(timer);
              resolve();
            };
          });
        }
        await app.close();
        await worker?.stop();
        await services.close();
        lock?.release();
        logger.flush();
      })();
      return stopping;
    },
  };
}

/**
 * PostgreSQL lets any number of servers share the database, but without Redis each keeps its own
 * rate-limit counts, in-flight Idempotency-Key locks and caches (docs/limits.md): a second server
 * would count every key's limits apart and see a revoked key late. Said at each start, since
 * nothing stops a second server (SQLite's instance lock does, for a file).
 */
const ALONE_ON_POSTGRES =
  'PostgreSQL without REDIS_URL: rate limits, quotas, Idempotency-Key locks and caches are kept in this ' +
  'server alone. Run one API server on this database (one `gatehouse start --workers N` counts as one), ' +
  'or give every server and worker the same REDIS_URL (docs/DEPLOY.md)';

/**
 * The first start's hint. A server may run with an environment (a unit's EnvironmentFile) that
 * the operator's shell does not have: init run there without DATABASE_URL made a SQLite
 * installation in ./data that no server uses (PostgreSQL, or a SQLite file elsewhere, as in
 * /var/lib/gatehouse), and without the server's GATEHOUSE_SECRET one sealed with another secret.
 */
function noOwnerYet(config: Config): string {
  const command = 'npx gatehouse init --email you@example.com';
  const { database } = config;
  const elsewhere = database.kind === 'postgres' || resolve(database.path) !== resolve(DEFAULT_SQLITE_PATH);
  const variables = [elsewhere && 'DATABASE_URL', config.secret !== undefined && 'GATEHOUSE_SECRET'].filter(
    Boolean,
  );
  const hint = `No owner yet: run "${command}" to create one (it asks for a password)`;
  if (variables.length === 0) return hint;
  return (
    `${hint}, with this server's ${variables.join(' and ')} in its environment` +
    (elsewhere ? ' (without DATABASE_URL, init makes a separate SQLite installation in ./data)' : '')
  );
}

/**
 * Without Redis, an API server on a SQLite file is that file's only one (infra/db/instance-lock.ts):
 * its limits and caches live in the process. With Redis they are shared, so several may run.
 */
export function claimSqliteServer(config: Config): InstanceLock | undefined {
  const { database } = config;
  if (database.kind !== 'sqlite' || database.path === ':memory:' || config.redisUrl) return undefined;
  return claimSqliteInstance(database.path);
}

/** `gatehouse worker`: the webhook worker alone, until SIGTERM. */
export async function startWorker(config: Config): Promise<{ stop(): Promise<void>; wake(): void }> {
  const logger = createLogger(config.logLevel);
  const services = await createServices(config, { logger });
  const worker = services.webhooks.createWorker(logger);
  worker.start();
  warnAboutSecret(services, logger);
  logger.info({ database: services.database.dialect.name }, 'Gatehouse webhook worker running');
  // The worker's own timers do not hold the process (a server's worker lives as long as the
  // server); alone, nothing else may (SQLite without Redis): this does, until SIGTERM.
  const alive = setInterval(() => {}, 2 ** 30);
  let stopping: Promise<void> | null = null;
  return {
    wake: () => worker.wake(),
    stop() {
      clearInterval(alive);
      stopping ??= (async () => {
        await worker.stop();
        await services.close();
        logger.flush();
      })();
      return stopping;
    },
  };
}

/** The installation secret in the database itself: a copy of the database could then mint tokens. */
export function warnAboutSecret(services: Services, logger: Logger): void {
  // A cluster's primary says it once for all its workers.
  if (cluster.isWorker) return;
  const given = services.config.secret;
  if (given !== undefined && given.length < MIN_SECRET_LENGTH) {
    // Already sealing the installation's secrets (a new installation is refused one this short).
    logger.warn(
      `GATEHOUSE_SECRET is short (${given.length} characters, fewer than ${MIN_SECRET_LENGTH}): it keys the encryption of ` +
        'webhook secrets and the token signing keys. Keep it secret; a new installation needs a longer one (docs/DEPLOY.md)',
    );
  }
  if (services.secretSource !== 'database' || services.database.dialect.name !== 'postgres') return;
  logger.warn(
    'GATEHOUSE_SECRET is not set: the installation secret is kept in the database, so a copy of the database or a backup ' +
      'can open its webhook secrets and mint tokens. Set GATEHOUSE_SECRET (the same for every process; docs/DEPLOY.md)',
  );
}
