import cluster from 'node:cluster';
import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import { Redis } from 'ioredis';
import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import type { Config } from '../config.ts';
import { ApiError } from '../errors.ts';
import { sentTwice } from '../http/single-header.ts';
import { safeEqual } from '../infra/crypto/hash.ts';
import type { Db } from '../infra/db/database.ts';
import type { DialectAdapter } from '../infra/db/dialect.ts';
import { WARN_EVERY_MS } from '../infra/db/outage-log.ts';
import { withinDeadline } from '../infra/deadline.ts';
import { CLIENT_CLOSED } from '../limits/traffic.ts';
import type { DeliveryJson } from '../webhooks/delivery-service.ts';
import { answerForCluster, clusterMetrics } from './cluster-metrics.ts';
import { createRouteMetrics } from './route-metrics.ts';

export interface OpsRoutes {
  /** For requests answered outside Fastify's routes (records/fast-path.ts): counted under `url`. */
  routeObserver(url: string): (method: string, status: number, seconds: number) => void;
  close(): Promise<void>;
}

const DELIVERY_STATUSES: readonly DeliveryJson['status'][] = ['pending', 'succeeded', 'failed', 'cancelled'];

/** How long `/ready` waits for the database or Redis before calling it unreachable. */
const READY_TIMEOUT_MS = 2_000;

/** A check that did not answer within READY_TIMEOUT_MS: the database slow or gone, not a fault of the check. */
class NoAnswerError extends Error {}

/**
 * Operations: `/ready` (database and Redis reachable: for load balancers and orchestrators;
 * `/health` stays a cheap liveness answer) and `/metrics` in the Prometheus text format.
 */
export function registerOpsRoutes(
  app: FastifyInstance,
  deps: {
    db: Db;
    /** Tells the database down or full (said by the outage log and /ready) from other failures. */
    faults: Pick<DialectAdapter, 'isUnavailable' | 'isStorageFull'>;
    config: Config;
    draining?: (() => boolean) | undefined;
  },
): OpsRoutes {
  const { db, faults, config } = deps;
  const redis = config.redisUrl
    ? new Redis(config.redisUrl, {
        lazyConnect: true,
        maxRetriesPerRequest: 1,
        enableOfflineQueue: false,
        connectTimeout: 1_000,
        // A Redis that accepts the connection but never answers must not hang the probe.
        commandTimeout: config.limits.redisTimeoutMs,
      })
    : undefined;
  redis?.on('error', () => {});
  /** A check that has not answered after READY_TIMEOUT_MS counts as unreachable. */
  const answered = <T>(check: Promise<T>) =>
    withinDeadline(check, READY_TIMEOUT_MS, () => new NoAnswerError('no answer'));

  /**
   * A queue gauge's figures, read from the database. While it does not answer (or not within
   * READY_TIMEOUT_MS) the gauge keeps its last figures and the scrape still succeeds: the outage
   * is what the HTTP series (503s) and the process metrics are scraped for. Any other failure (a
   * table missing, a query the database refuses) is a fault: warned of, with the database's own
   * words and no stack, at most every 10 s (with how many failures it covers), as outages are.
   */
  const gaugeFailures = { count: 0, lastWarned: 0 };
  const fromDatabase = async (read: () => Promise<void>) => {
    try {
      await answered(read());
    } catch (error) {
      // The last figures stay; /ready and the log say the database is unavailable or full.
      if (error instanceof NoAnswerError || faults.isUnavailable(error) || faults.isStorageFull(error))
        return;
      gaugeFailures.count++;
      const now = Date.now();
      if (now - gaugeFailures.lastWarned < WARN_EVERY_MS) return;
      gaugeFailures.lastWarned = now;
      const { message, code } = (error ?? {}) as { message?: unknown; code?: unknown };
      app.log.warn(
        { cause: { code, message: String(message) }, failures: gaugeFailures.count },
        '/metrics could not read the queue gauges from the database: they keep their last figures',
      );
      gaugeFailures.count = 0;
    }
  };

  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const routeMetrics = createRouteMetrics(registry);
  new Gauge({
    name: 'gatehouse_outbox_queued',
    help: 'Writes committed but not yet turned into webhook deliveries',
    registers: [registry],
    // Every process counts the same table: across a cluster it is one figure, not a sum.
    aggregator: 'max',
    async collect() {
      await fromDatabase(async () => {
        const row = await db
          .selectFrom('requests')
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .where('status', '=', 'queued')
          .executeTakeFirst();
        this.set(Number(row?.n ?? 0));
      });
    },
  });
  new Gauge({
    name: 'gatehouse_webhook_deliveries',
    help: 'Webhook deliveries by status',
    labelNames: ['status'],
    registers: [registry],
    aggregator: 'max',
    async collect() {
      await fromDatabase(async () => {
        // Kept by triggers on webhook_deliveries (migration 0013): a few rows, however many
        // deliveries are kept, and exact (each write's counts commit with it).
        const row = await db
          .selectFrom('webhook_delivery_counts')
          .select((eb) =>
            DELIVERY_STATUSES.map((status) => eb.fn.sum<number | string | null>(status).as(status)),
          )
          .executeTakeFirst();
        // Every status, 0 when none: a backlog that empties reads 0, not a series that vanishes.
        for (const status of DELIVERY_STATUSES) this.set({ status }, Number(row?.[status] ?? 0));
      });
    },
  });

  // Instrument each route as it is registered: a root onResponse hook reading
  // request.routeOptions cost a third of the data API's throughput.
  // A request whose client hung up before its answer is counted once, as 499, as usage and the
  // fast path count it (limits/traffic.ts). Its duration is not known here (the abort hook is not
  // given the reply, which holds the start time): it is observed as 0 rather than paying for a
  // timestamp on every request. Its late answer, should Node report one ('error' on the
  // response), is not counted again.
  const abandoned = new WeakSet<FastifyRequest>();
  app.addHook('onRoute', (route) => {
    const record = routeMetrics.route(route.url);
    const observe = (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) => {
      if (!abandoned.has(request)) record(request.method, reply.statusCode, reply.elapsedTime / 1000);
      done();
    };
    const abort = (request: FastifyRequest, done: HookHandlerDoneFunction) => {
      abandoned.add(request);
      record(request.method, CLIENT_CLOSED, 0);
      done();
    };
    route.onResponse = [...[route.onResponse ?? []].flat(), observe] as typeof route.onResponse;
    // Under /api, where usage counts them and the scope's usage hook already has Fastify watch
    // each request for an abort, and under /admin, whose calls are few and may take a while: not
    // on /health, the dashboard's files and the like, where it would add a listener to every
    // request for answers that take no time.
    if (route.url.startsWith('/api/') || route.url.startsWith('/admin/')) {
      route.onRequestAbort = [...[route.onRequestAbort ?? []].flat(), abort] as typeof route.onRequestAbort;
    }
  });

  // Registered after the hook above, so that its answers are counted too (a probe's 503s).
  app.get('/ready', async (_request, reply) => {
    // Stopping (SIGTERM, GATEHOUSE_SHUTDOWN_DELAY_MS): still serving, but send no new traffic.
    if (deps.draining?.()) return reply.code(503).send({ status: 'draining', checks: {} });
    const checks: Record<string, string> = {};
    try {
      await answered(db.selectFrom('settings').select('key').limit(1).execute());
      checks.database = 'ok';
    } catch {
      checks.database = 'unreachable';
    }
    if (redis) {
      try {
        // Connecting is within the deadline too: to a Redis that accepts but never answers, it
        // waits for the ready check (GATEHOUSE_REDIS_TIMEOUT_MS and more), not READY_TIMEOUT_MS.
        const connected =
          redis.status === 'wait' || redis.status === 'end'
            ? redis.connect().catch(() => {})
            : Promise.resolve();
        await answered(connected.then(() => redis.ping()));
        checks.redis = 'ok';
      } catch {
        checks.redis = 'unreachable';
      }
    }
    const ready = Object.values(checks).every((v) => v === 'ok');
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not_ready', checks });
  });

  // Under `start --workers N` a scrape reaches one process: the figures are the installation's.
  if (cluster.isWorker) answerForCluster(registry);
  const expected = config.metricsToken;
  app.get('/metrics', async (request, reply) => {
    // With GATEHOUSE_METRICS_TOKEN set, only the scraper that holds it reads the figures. The
    // scheme is case-insensitive (RFC 9110), as for API keys: `bearer <token>` is the same.
    // Sent twice, it is refused, as on the other APIs: Node keeps the first line, and a proxy
    // that read the other one would have let someone else through.
    const presented = sentTwice(request, 'authorization')
      ? undefined
      : /^Bearer +(.+)$/i.exec(request.headers.authorization ?? '')?.[1];
    if (expected !== undefined && !safeEqual(presented ?? '', expected)) {
      throw new ApiError('unauthorized', {
        message: 'GET /metrics needs Authorization: Bearer <GATEHOUSE_METRICS_TOKEN>',
      });
    }
    return reply
      .type(registry.contentType)
      .send(cluster.isWorker ? await clusterMetrics(READY_TIMEOUT_MS * 2) : await registry.metrics());
  });

  return {
    routeObserver: routeMetrics.route,
    async close() {
      redis?.disconnect();
    },
  };
}
