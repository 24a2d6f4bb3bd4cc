import cluster from 'node:cluster';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from '../config.ts';
import { syncFirstHook } from '../http/sync-hook.ts';
import { createIdempotency, type Idempotency } from '../idempotency/idempotency-service.ts';
import { memoryLocks, redisLocks } from '../idempotency/in-flight-locks.ts';
import type { Db } from '../infra/db/database.ts';
import type { DialectAdapter } from '../infra/db/dialect.ts';
import type { OutageLog } from '../infra/db/outage-log.ts';
import { createLogger } from '../infra/logger.ts';
import type { AuthenticatedKey } from '../keys/key-service.ts';
import { createUsageMeter, type UsageMeter } from '../usage/usage-meter.ts';
import { type BruteForceGuard, createBruteForceGuard } from './brute-force.ts';
import { clusterCheckAndCharge, clusterCounters } from './cluster-counters.ts';
import { type Counters, memoryCounters, redisCheckAndCharge, redisCounters } from './counters.ts';
import { enforceLimits, sendLimitHeaders } from './hooks.ts';
import { createRateLimiter, type LimitDecision, type RateLimiter } from './rate-limiter.ts';
import { connectRedis, type SharedRedis } from './redis.ts';
import { type Period, utcDay, type WindowName } from './windows.ts';

/** The least time a `--workers` process waits for the primary's counters (see clusterCounters). */
const PRIMARY_TIMEOUT_MS = 5_000;

/** Everything that meters and limits API traffic, wired from the config: one object for app.ts. */
export interface Traffic {
  redis: SharedRedis | undefined;
  limiter: RateLimiter;
  bruteForce: BruteForceGuard;
  idempotency: Idempotency;
  usage: UsageMeter;
  close(): Promise<void>;
}

const PRUNE_EVERY_MS = 10 * 60_000;

export function createTraffic(config: Config, db: Db, dialect: DialectAdapter, outage?: OutageLog): Traffic {
  const settings = config.limits;
  const log = createLogger(config.logLevel);
  const redis = config.redisUrl
    ? connectRedis({
        url: config.redisUrl,
        prefix: settings.redisPrefix,
        timeoutMs: settings.redisTimeoutMs,
        warn: (message, error) =>
          log.warn(
            { err: error, policy: settings.onRedisFailure },
            `${message} (limits fail ${settings.onRedisFailure})`,
          ),
      })
    : undefined;
  // Workers of `gatehouse start --workers N` share one set of counters kept by the primary.
  // The primary is this machine's own process: a slow answer is load, not an outage, so it is
  // given longer than Redis before the failure policy applies.
  const primaryTimeoutMs = Math.max(settings.redisTimeoutMs, PRIMARY_TIMEOUT_MS);
  const warn = (m: string) => log.warn(m);
  const counters = (family: string): Counters => {
    if (redis) return redisCounters(redis, family);
    if (cluster.isWorker) return clusterCounters(family, primaryTimeoutMs, warn);
    return memoryCounters(family);
  };
  const usage = createUsageMeter(db);
  const windows = ['rl:minute', 'rl:day', 'rl:month'];
  const [minute, day, month] = windows.map(counters) as [Counters, Counters, Counters];
  // Shared counters check and charge every window in one atomic step (Redis, or the primary).
  const checkAndCharge = redis
    ? redisCheckAndCharge(redis, windows)
    : cluster.isWorker
      ? clusterCheckAndCharge([minute, day, month], primaryTimeoutMs, warn)
      : undefined;
  const limiter = createRateLimiter({
    counters: { minute, day, month },
    defaults: settings.defaults,
    usedBefore: (keyId, window: Exclude<WindowName, 'minute'>, p: Period) =>
      usage.usedBetween(keyId, window === 'day' ? p.id : `${p.id}-01`, utcDay(p.end - 1)),
    ...(checkAndCharge ? { checkAndCharge } : {}),
  });
  const bruteForce = createBruteForceGuard({
    counters: counters('authfail'),
    limit: settings.authFailureLimit,
    windowSeconds: settings.authFailureWindowSeconds,
  });
  const idempotency = createIdempotency({
    db,
    dialect,
    locks: redis ? redisLocks(redis) : memoryLocks(),
    ttlSeconds: settings.idempotencyTtlSeconds,
  });

  const flushTimer = setInterval(() => {
    usage.flush().catch((error: unknown) => {
      // The database down: said by the outage log, once every 10 s, not at every flush.
      if (!outage?.noted(error, log)) log.warn({ err: error }, 'usage flush failed; will retry');
    });
  }, settings.usageFlushMs);
  flushTimer.unref();
  const pruneTimer = setInterval(() => {
    idempotency.prune().catch((error: unknown) => log.warn({ err: error }, 'idempotency key pruning failed'));
  }, PRUNE_EVERY_MS);
  pruneTimer.unref();
  idempotency.prune().catch(() => {});

  return {
    redis,
    limiter,
    bruteForce,
    idempotency,
    usage,
    async close() {
      clearInterval(flushTimer);
      clearInterval(pruneTimer);
      await usage
        .flush()
        .catch((error: unknown) => log.warn({ err: error }, 'usage flush at shutdown failed'));
      await redis?.close();
      log.flush();
    },
  };
}

/** The usage label: the data endpoint's slug, `apps:{app}` for an App API call, else ''. */
function endpointOf(request: FastifyRequest): string {
  const target: FastifyRequest['target'] | undefined = request.target;
  if (target) return target.endpoint.slug;
  if (request.endpointSlug) return request.endpointSlug;
  const appCall: FastifyRequest['appCall'] | undefined = request.appCall;
  if (appCall) return `apps:${appCall.app.slug}`;
  // Refused before its route was resolved (a 429, say): still counted under an app that exists.
  const app: FastifyRequest['appRuntime'] = request.appRuntime;
  return app ? `apps:${app.slug}` : '';
}

/**
 * The hooks of the /api scope that come after API-key authentication, in order: limits
 * (onRequest), failed-key counting (onError), idempotency (preHandler), headers and lock release
 * (onSend), usage (onResponse). The brute-force guard runs before authentication: see app.ts.
 * All are callback-style and finish synchronously in the common case (the limit check too, with
 * in-process counters), so they cost the hot path no promise.
 */
export function registerTrafficHooks(api: FastifyInstance, traffic: Traffic, config: Config): void {
  const { idempotency, usage } = traffic;
  api.decorateRequest('rateLimit', undefined);
  api.decorateRequest('idempotency', undefined);
  api.addHook(
    'onRequest',
    syncFirstHook(enforceLimits({ limiter: traffic.limiter, onFailure: config.limits.onRedisFailure })),
  );
  api.addHook('onError', traffic.bruteForce.failed);
  api.addHook('preHandler', (request, reply, done) => {
    // No key (a public App API route called without credentials): nothing to be idempotent for.
    if (request.headers['idempotency-key'] === undefined || !request.apiKey) return done();
    // A replay has been sent: the chain must stop here, so `done` is not called.
    idempotency.preHandler(request, reply).then((replied) => {
      if (!replied) done();
    }, done);
  });
  api.addHook('onSend', (request, reply, payload, done) => {
    sendLimitHeaders(request, reply);
    if (!request.idempotency?.lock) return done(null, payload);
    idempotency.release(request).then(
      () => done(null, payload),
      () => done(null, payload),
    );
  });
  const counted = new WeakSet<FastifyRequest>();
  const count = (request: FastifyRequest, status: number) => {
    const key: AuthenticatedKey | undefined = request.apiKey;
    if (!key || counted.has(request)) return;
    counted.add(request);
    usage.record({
      keyId: key.id,
      endpoint: endpointOf(request),
      environment: key.environment,
      status,
      rateLimited: request.rateLimit?.outcome === 'rejected',
      at: chargedAt(request.rateLimit),
    });
  };
  api.addHook('onResponse', (request: FastifyRequest, reply: FastifyReply, done) => {
    count(request, reply.statusCode);
    done();
  });
  // A client that hangs up mid-request was counted by the limiter already; usage counts it too
  // (as 499, nginx's "client closed request"), or a restart, which seeds the counters from usage,
  // would hand its share of a quota out again.
  api.addHook('onRequestAbort', (request: FastifyRequest, done) => {
    count(request, CLIENT_CLOSED);
    done();
  });
  // A client gone while its key was being looked up or its limit charged (both can wait on the
  // database or Redis): the abort hook ran before the request had a key, so it is counted here,
  // once charged (this onRequest hook runs after the limit's).
  api.addHook('onRequest', (request: FastifyRequest, _reply, done) => {
    if (request.raw.destroyed) count(request, CLIENT_CLOSED);
    done();
  });
}

/** The status usage records for a request its client abandoned before an answer. */
export const CLIENT_CLOSED = 499;

/**
 * When usage counts a request: in the day its limit was charged (the day window's last
 * millisecond), so that one started before midnight UTC and answered after it counts in the day
 * and month the limiter counted it in, and from which a restart seeds them; now when uncharged.
 */
export function chargedAt(decision: LimitDecision | undefined): number {
  if (decision && decision.outcome !== 'unavailable') {
    for (const w of decision.windows) if (w.window === 'day') return w.resetAt - 1;
  }
  return Date.now();
}
