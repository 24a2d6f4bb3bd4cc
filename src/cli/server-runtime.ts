/**
 * The server's modules, for the commands that run it (init, start, serve, worker). Loaded on
 * demand: every other command talks HTTP to a server and starts in a fraction of the time
 * without them (Fastify, Kysely, Ajv, the drivers: about a second here).
 */
export { createServices } from '../app.ts';
export { InstanceLockedError } from '../infra/db/instance-lock.ts';
export { createLogger } from '../infra/logger.ts';
export { shareLimitsAcrossWorkers } from '../limits/cluster-counters.ts';
export { runCluster } from '../server/cluster.ts';
export { claimSqliteServer, startServer, startWorker, warnAboutSecret } from '../server/serve.ts';
