import cluster from 'node:cluster';
import { createServer, type IncomingMessage, type ServerOptions, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import proxyAddr from '@fastify/proxy-addr';
import Fastify, { type FastifyInstance, LogController } from 'fastify';
import type { Logger } from 'pino';
import { createOwnerService, type OwnerService } from './accounts/owner-service.ts';
import { registerManagementTokenRoutes } from './accounts/token-routes.ts';
import { type AppService, createAppService } from './apps/app-service.ts';
import { createRecordFinder } from './apps/record-find.ts';
import { registerAppRoutes } from './apps/routes.ts';
import { registerAppRuntime } from './apps/runtime.ts';
import { type Config, ConfigError } from './config.ts';
import { registerManagementAccess } from './dashboard/access.ts';
import { type AuditLog, createAuditLog, registerAuditHook } from './dashboard/audit.ts';
import { createAuditPruner } from './dashboard/audit-retention.ts';
import { registerConsoleRoutes } from './dashboard/console-routes.ts';
import { registerDashboardRoutes } from './dashboard/routes.ts';
import { registerDashboard } from './dashboard/static.ts';
import { registerTestRequestRoutes } from './dashboard/test-requests.ts';
import { createUserService, type UserService } from './dashboard/user-service.ts';
import {
  collectRoutes,
  openApiCache,
  registerAdminApiDocument,
  registerDataApiDocument,
  registerDocsPage,
} from './docs/routes.ts';
import { createEndpointService, type EndpointService } from './endpoints/endpoint-service.ts';
import { registerEndpointRoutes } from './endpoints/routes.ts';
import { ApiError } from './errors.ts';
import { apiKeyAuth, bruteForceHook, NO_STORE } from './http/auth.ts';
import {
  answerRefusedRequest,
  clientErrorHandler,
  frameworkErrors,
  registerErrorHandling,
  sendError,
  type UnmatchedAnswers,
} from './http/error-handler.ts';
import { strictTransportSecurity } from './http/hsts.ts';
import { ignoreDeleteBodies, MAX_REQUEST_BYTES, registerJsonParser } from './http/json-body.ts';
import { refuseUnknownQuery } from './http/known-query.ts';
import { refuseNulInUrl } from './http/no-nul-in-url.ts';
import { logAnswer } from './http/request-log.ts';
import { sentTwice } from './http/single-header.ts';
import { newId } from './ids.ts';
import { type InvalidationBus, localBus } from './infra/bus/bus.ts';
import { clusterWorkerBus } from './infra/bus/cluster-bus.ts';
import { redisBus } from './infra/bus/redis-bus.ts';
import { createEncryptor, type Encryptor, UnsealError } from './infra/crypto/encryption.ts';
import { type DatabaseHandle, openDatabase } from './infra/db/database.ts';
import { AddressGuard } from './infra/http-client/address-guard.ts';
import {
  checkSealedSigningKeys,
  loadInstallationSecret,
  type SecretSource,
} from './infra/installation-secret.ts';
import { createLogger } from './infra/logger.ts';
import { secretFileOf } from './infra/secret-file.ts';
import { createKeyService, type KeyService } from './keys/key-service.ts';
import { registerAccountRoute, registerKeyRoutes } from './keys/routes.ts';
import { createTraffic, registerTrafficHooks, type Traffic } from './limits/traffic.ts';
import { UNMATCHED_ROUTE } from './ops/route-metrics.ts';
import { registerOpsRoutes } from './ops/routes.ts';
import { createDataFastPath, type DataFastPath } from './records/fast-path.ts';
import { createRecordReader, type RecordReader } from './records/record-reader.ts';
import { createRecordWriter, type RecordWriter } from './records/record-writer.ts';
import { refuseEmptySlug, registerRecordRoutes } from './records/routes.ts';
import { registerTransferRoutes } from './records/transfer-routes.ts';
import { registerTokenAdminRoute, registerTokenRoute } from './tokens/routes.ts';
import { createTokenService, type TokenService } from './tokens/token-service.ts';
import { accountUsage } from './usage/account-usage.ts';
import { registerUsageRoutes } from './usage/routes.ts';
import { callbackPreparer } from './webhooks/callback-headers.ts';
import { type CallbackSecrets, createCallbackSecrets } from './webhooks/callback-secrets.ts';
import {
  createDeliveryService,
  type DeliveryService,
  loadCallbackSecret,
} from './webhooks/delivery-service.ts';
import { registerWebhookRoutes } from './webhooks/routes.ts';
import { newSigningSecret } from './webhooks/signing.ts';
import { createSubscriptionService, type SubscriptionService } from './webhooks/subscription-service.ts';
import { createWebhookWorker, type WebhookWorker } from './webhooks/worker.ts';

export interface Services {
  config: Config;
  database: DatabaseHandle;
  secret: string;
  /** Where the installation secret came from: GATEHOUSE_SECRET, the file beside SQLite, or the database. */
  secretSource: SecretSource;
  bus: InvalidationBus;
  owners: OwnerService;
  /** Dashboard users, sessions and invites. */
  users: UserService;
  audit: AuditLog;
  endpoints: EndpointService;
  /** App APIs: owner-defined routes under /api/v1/apps/{app}. */
  apps: AppService;
  keys: KeyService;
  reader: RecordReader;
  writer: RecordWriter;
  /** Rate limits, quotas, brute-force protection, idempotency and usage metering. */
  traffic: Traffic;
  encryptor: Encryptor;
  /** Short-lived JWTs minted from API keys. */
  tokens: TokenService;
  webhooks: {
    subscriptions: SubscriptionService;
    deliveries: DeliveryService;
    /** The installation's callback secret: the root each key's callback secret derives from. */
    callbackSecret: string;
    /** Each API key's callback signing secret (derived from callbackSecret, cached). */
    callbackSecrets: CallbackSecrets;
    /**
     * The outbox worker; `start` and `worker` run it, `serve` does not. `firstPruneMs`: when its
     * first prune runs after `start` (a minute by default; tests make it sooner).
     */
    createWorker(logger?: Logger, timing?: { firstPruneMs?: number }): WebhookWorker;
  };
}

/**
 * Opens the database and wires the services; shared by the server, the worker and the CLI.
 * `logger`: the server's, for what the services say on their own (the invalidation bus's Redis
 * outages, a lockout the audit log could not take); one at LOG_LEVEL on stderr otherwise.
 */
export async function createServices(
  config: Config,
  options: { logger?: Logger } = {},
): Promise<Services & { close(): Promise<void> }> {
  const database = await openDatabase(config.database);
  const { db, dialect } = database;
  const { secret, source: secretSource } = await loadInstallationSecret(
    db,
    config.secret,
    database.dialect.sqlitePath,
  ).catch(async (error: unknown) => {
    await database.close();
    throw error;
  });
  const logger = options.logger ?? createLogger(config.logLevel);
  // Many machines: Redis. Several processes of `start --workers N`: the cluster's IPC. Else in-process.
  const bus = config.redisUrl
    ? redisBus(config.redisUrl, `${config.limits.redisPrefix}invalidate`, {
        logger,
        cacheTtlMs: config.cacheTtlMs,
      })
    : cluster.isWorker
      ? clusterWorkerBus()
      : localBus();
  const encryptor = createEncryptor(secret);
  const callbackSecret = await loadCallbackSecret(db, encryptor, newSigningSecret).catch(async (error) => {
    if (!(error instanceof UnsealError)) throw error;
    await bus.close();
    await database.close();
    throw new ConfigError(
      config.secret
        ? 'GATEHOUSE_SECRET is not the secret this installation was set up with: its stored secrets do not open. ' +
            'Every process of one installation needs the same GATEHOUSE_SECRET'
        : secretSource === 'file'
          ? `${secretFileOf(database.dialect.sqlitePath as string)} is not the installation secret this database was set up with: its stored secrets do not open. ` +
            'Restore the file that belongs to this database, or set the GATEHOUSE_SECRET it was set up with'
          : 'GATEHOUSE_SECRET is not set, but this installation was set up with one: its stored secrets do not open. ' +
            'Set the same GATEHOUSE_SECRET for every process of the installation',
    );
  });
  await checkSealedSigningKeys(db, encryptor).catch(async (error: unknown) => {
    await bus.close();
    await database.close();
    throw error;
  });
  const callbackSecrets = createCallbackSecrets(callbackSecret);
  const keys = createKeyService({
    db,
    dialect,
    bus,
    prefix: config.keyPrefix,
    cacheTtlMs: config.cacheTtlMs,
    rollGraceSeconds: config.keyRollGraceSeconds,
    defaultLimits: config.limits.defaults,
  });
  const endpoints = createEndpointService({ db, bus, dialect, cacheTtlMs: config.cacheTtlMs });
  const writer = createRecordWriter(db, dialect, { outage: database.outage });
  const audit = createAuditLog(db);
  const auditPruner = createAuditPruner(db, config.audit.retentionDays);
  const deliveries = createDeliveryService({ db, secret, encryptor });
  const owners = createOwnerService({ db, dialect, bus, cacheTtlMs: config.cacheTtlMs });
  const services: Services = {
    config,
    database,
    secret,
    secretSource,
    bus,
    owners,
    users: createUserService({ db, dialect, audit, sessions: config.sessions, tokens: owners, logger }),
    audit,
    endpoints,
    apps: createAppService({ db, bus, dialect, endpoints, cacheTtlMs: config.cacheTtlMs }),
    keys,
    reader: createRecordReader({ db, dialect, secret }),
    writer,
    traffic: createTraffic(config, db, dialect, database.outage),
    encryptor,
    tokens: createTokenService({ db, encryptor, keys, bus }),
    webhooks: {
      subscriptions: createSubscriptionService({
        db,
        endpoints,
        encryptor,
        guard: new AddressGuard(config.webhookAllowNets),
      }),
      deliveries,
      callbackSecret,
      callbackSecrets,
      createWorker(logger, timing) {
        const worker = createWebhookWorker({
          db,
          dialect,
          encryptor,
          callbackSecrets,
          allowNets: config.webhookAllowNets,
          ...config.webhooks,
          disableAfterMs: config.webhooks.disableAfterHours * 3_600_000,
          // The hourly job every installation runs: in its server, or in `gatehouse worker`.
          alsoPrune: (stopping) => auditPruner.prune(stopping),
          ...timing,
          logger,
          outage: database.outage,
        });
        writer.onCommit(() => worker.wake());
        deliveries.onRedeliver(() => worker.wake());
        return worker;
      },
    },
  };
  if (cluster.isWorker) {
    // The webhook worker runs in the primary: tell it about each commit (and redelivery) so it
    // wakes at once.
    let told = false;
    const tell = () => {
      if (told) return;
      told = true;
      setImmediate(() => {
        told = false;
        process.send?.({ kind: 'gatehouse:commit' });
      });
    };
    writer.onCommit(tell);
    deliveries.onRedeliver(tell);
  }
  // Keys' and management tokens' last uses, written in batches.
  const flushLastUsed = () =>
    Promise.all([keys.flushLastUsed(), owners.flushLastUsed()].map((flush) => flush.catch(() => {})));
  const flushTimer = setInterval(flushLastUsed, 5_000);
  flushTimer.unref();
  return {
    ...services,
    async close() {
      clearInterval(flushTimer);
      await services.writer.close();
      await services.traffic.close();
      await flushLastUsed();
      await bus.close();
      await database.close();
    },
  };
}

const KEEP_ALIVE_MS = 72_000;

/** The refusal of a request whose Host header is missing or repeated (RFC 9112, section 3.2). */
function malformedHost(error: string): ApiError {
  return new ApiError('invalid_request', {
    message: 'Malformed HTTP request',
    details: [{ field: 'Host', error }],
  });
}

export interface BuildOptions {
  logger: Logger | false;
  /**
   * True once the server was asked to stop and waits out GATEHOUSE_SHUTDOWN_DELAY_MS: `/ready`
   * answers 503 and every answer closes its connection, so clients come back through the load
   * balancer, to another server.
   */
  draining?: () => boolean;
}

/** The HTTP application, without listening: tests and `serve` call `listen` themselves. */
export function buildApp(services: Services, options: BuildOptions): FastifyInstance {
  const { config } = services;
  const { draining } = options;
  // Set once the routes exist; until then (and while closing) every request goes through Fastify.
  let fastPath: DataFastPath | undefined;
  // Behind trusted proxies, X-Forwarded-For names the client; the fast path reads it alike.
  const trusted = config.trustProxy.length > 0 ? proxyAddr.compile(config.trustProxy) : undefined;
  const clientAddress = trusted
    ? (req: IncomingMessage) => proxyAddr(req, trusted)
    : (req: IncomingMessage) => req.socket.remoteAddress ?? '';
  const hsts = strictTransportSecurity(config, trusted);
  /** Answers no route saw: metrics count them as unmatched (DEPLOY.md). */
  const unmatched: UnmatchedAnswers = {};
  // At LOG_LEVEL=debug (or trace) each answer is logged: its Request-Id, method, path (never the
  // query string, which may hold an invite token), status and time. Off otherwise: a log line
  // costs more than a request at our rates.
  const requestLog =
    options.logger === false || !options.logger?.isLevelEnabled('debug') ? undefined : options.logger;
  /** An answer given before Fastify's hooks (which log the others), logged and counted as unmatched. */
  const refusedEarly = (id: string, method: string, url: string, status: number, seconds: number) => {
    unmatched.observe?.(method, status, seconds);
    if (requestLog) logAnswer(requestLog, id, method, url, status, seconds * 1000);
  };
  const refused = (req: IncomingMessage, res: ServerResponse, error: ApiError) => {
    const id = answerRefusedRequest(res, error);
    refusedEarly(id, req.method ?? 'UNKNOWN', req.url ?? '', error.status, 0);
  };
  // Set when the server starts closing (the preClose hook below).
  let closing = false;
  /** The server's open connections: closing ends those with an answer under way (preClose). */
  const sockets = new Set<Socket>();
  const app = Fastify({
    trustProxy: config.trustProxy.length > 0 ? config.trustProxy : false,
    // Our own node:http server, so the data API's fast path sees each request first.
    serverFactory: (handler, opts) => {
      const server = createServer(
        { ...(opts.http as ServerOptions), requireHostHeader: false },
        (req, res) => {
          if (draining?.()) res.setHeader('connection', 'close');
          hsts?.(req, res);
          if (req.headers.host === undefined && req.httpVersion === '1.1') {
            refused(req, res, malformedHost('An HTTP/1.1 request needs a Host header'));
            return;
          }
          // Node keeps the first of two Host lines; a proxy in front may have routed by the other.
          if (sentTwice(req, 'host')) {
            refused(req, res, malformedHost('Send the Host header once'));
            return;
          }
          if (!fastPath?.handle(req, res)) handler(req, res);
        },
      );
      // Node answers an unknown Expect itself, without the envelope, unless asked to.
      // Node emits no 'request' for it, so the header is set here as for any other answer.
      server.on('checkExpectation', (req, res) => {
        hsts?.(req, res);
        refused(req, res, new ApiError('expectation_failed'));
      });
      // Node would send 100 Continue before any check; the body's first read sends it instead,
      // so a request refused first (401, 413, 415…) is answered without the client sending its
      // body, and Node closes that connection (the body may still come). Only with Expect.
      server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
        req.once('resume', () => {
          if (!res.headersSent) res.writeContinue();
        });
        server.emit('request', req, res);
      });
      // Node hands a CONNECT the bare socket and, with no listener, closes it without a word:
      // Fastify answers it as any method no route takes (405 naming the allowed ones, or 404).
      server.on('connect', (req: IncomingMessage, socket: Socket) => {
        const res = new ServerResponse(req);
        res.shouldKeepAlive = false;
        res.assignSocket(socket);
        res.once('finish', () => socket.destroySoon());
        hsts?.(req, res);
        handler(req, res);
      });
      // Per connection, not per request: nothing is added to the answers' hot path.
      server.on('connection', (socket: Socket) => {
        sockets.add(socket);
        socket.once('close', () => sockets.delete(socket));
      });
      // What Fastify sets on a server it creates itself (the same values as below).
      server.keepAliveTimeout = KEEP_ALIVE_MS;
      server.requestTimeout = config.requestTimeoutMs;
      server.setTimeout(0);
      return server;
    },
    loggerInstance: options.logger === false ? undefined : options.logger,
    logger: options.logger === false ? false : undefined,
    genReqId: () => newId('request'),
    requestIdHeader: false,
    // Per-request log lines cost more than the request at our rates; errors are logged by the handler.
    logController: new LogController({ disableRequestLogging: true }),
    // No child logger per request (it cost ~40% of GET throughput): errors carry the request id.
    childLoggerFactory: (logger) => logger,
    bodyLimit: MAX_REQUEST_BYTES,
    // While closing, requests get the envelope's 503 from the hook below, not Fastify's own body.
    return503OnClosing: false,
    connectionTimeout: 0,
    requestTimeout: services.config.requestTimeoutMs,
    http: {
      headersTimeout: Math.min(services.config.headersTimeoutMs, services.config.requestTimeoutMs),
      // How often Node checks those timeouts (default 30 s): a fraction of the shortest one.
      connectionsCheckingInterval: Math.max(50, Math.floor(services.config.headersTimeoutMs / 4)),
    },
    keepAliveTimeout: KEEP_ALIVE_MS,
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 200 },
    // Counted in /metrics as answers no route matched; the method is not known (not parsed).
    clientErrorHandler: (error: Error & { code?: string }, socket: Socket) => {
      // Not parsed: neither the method nor the path is known.
      clientErrorHandler(error, socket, (status, id) => refusedEarly(id, 'UNKNOWN', '', status, 0));
    },
    // A URL the router cannot take (bad percent-encoding, a segment over maxParamLength): no
    // route's hook sees it, so it is counted with the unmatched answers.
    frameworkErrors: (error, request, reply) => {
      frameworkErrors(error, request, reply);
      refusedEarly(request.id, request.method, request.url, reply.statusCode, reply.elapsedTime / 1000);
    },
  }) as unknown as FastifyInstance;

  const routes = collectRoutes(app);
  const openApi = openApiCache(services.endpoints, services.bus, services.apps);
  registerErrorHandling(app, services.database.dialect, services.database.outage, routes, unmatched);
  registerJsonParser(app);
  ignoreDeleteBodies(app);

  app.addHook('preClose', (done) => {
    closing = true;
    // Fastify closes the connections idle now. One with an answer under way (a request taken
    // before SIGTERM) would be kept alive after it, holding the closing server open for the
    // keep-alive timeout (72 s), past a supervisor's stop timeout: its answer closes it instead
    // (Connection: close), or, already being sent (a streamed export), it is closed once done.
    // `_httpMessage` is node:http's answer on the socket (how http-terminator finds it too).
    for (const socket of sockets) {
      const res = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage;
      if (!res || res.writableFinished) continue;
      if (!res.headersSent) res.shouldKeepAlive = false;
      else res.once('finish', () => app.server.closeIdleConnections());
    }
    done();
  });
  if (requestLog) {
    app.addHook('onResponse', (request, reply, done) => {
      logAnswer(requestLog, request.id, request.method, request.url, reply.statusCode, reply.elapsedTime);
      done();
    });
  }
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('Request-Id', request.id);
    // A request that reaches a closing server (on a kept-alive connection) is refused before any
    // work, in the envelope: the load balancer or client retries it elsewhere. Answered here, not
    // thrown: an expected answer, not a failure for the error log.
    if (closing) {
      sendError(
        reply,
        request,
        new ApiError('service_unavailable', {
          message: 'The server is shutting down: retry the request',
          headers: { 'Retry-After': '1', connection: 'close' },
        }),
      );
      return;
    }
    done();
  });

  const ops = registerOpsRoutes(app, {
    db: services.database.db,
    faults: services.database.dialect,
    config: services.config,
    draining,
  });
  unmatched.observe = ops.routeObserver(UNMATCHED_ROUTE);
  const prepareCallback = callbackPreparer(
    services.encryptor,
    new AddressGuard(services.config.webhookAllowNets),
  );
  app.get('/health', async () => ({ status: 'ok' }));
  app.addHook('onClose', async () => ops.close());
  if (services.config.publicDocs) app.register((docs) => registerDocsPage(docs, openApi));

  app.register(async (api) => {
    // A partner's records and tokens: never stored by a cache (see NO_STORE).
    api.addHook('onSend', (_request, reply, payload, done) => {
      reply.header('cache-control', NO_STORE);
      done(null, payload);
    });
    api.addHook('onRequest', refuseEmptySlug);
    api.addHook('onRequest', bruteForceHook(services.traffic.bruteForce, services.keys, services.tokens));
    api.addHook('onRequest', apiKeyAuth(services.keys, services.tokens));
    registerTrafficHooks(api, services.traffic, services.config);
    registerAccountRoute(api, services.webhooks.callbackSecrets, accountUsage);
    registerDataApiDocument(api, openApi);
    registerTokenRoute(api, services.tokens, services.keys);
    registerRecordRoutes(api, {
      ...services,
      writePreparers: [prepareCallback, services.traffic.idempotency.prepareWrite],
    });
  });

  if (config.fastPath) {
    const fast = createDataFastPath({
      ...services,
      onRedisFailure: config.limits.onRedisFailure,
      faults: services.database.dialect,
      outage: services.database.outage,
      writePreparers: [prepareCallback],
      observe: {
        record: ops.routeObserver('/api/v1/data/:slug/:id'),
        collection: ops.routeObserver('/api/v1/data/:slug'),
      },
      logger: options.logger === false ? undefined : options.logger,
      clientAddress,
    });
    app.addHook('onReady', (done) => {
      fastPath = fast;
      done();
    });
    app.addHook('preClose', (done) => {
      fast.close();
      done();
    });
  }

  // App APIs: their own scope, since a route may be public (see apps/runtime.ts).
  app.register(async (apps) =>
    registerAppRuntime(apps, {
      ...services,
      find: createRecordFinder(services.database.db, services.database.dialect),
    }),
  );

  app.register(async (admin) => {
    // Management answers carry secrets shown once (keys, whsec_, tokens): never cached, never sniffed.
    admin.addHook('onSend', (_request, reply, payload, done) => {
      reply.header('cache-control', NO_STORE);
      reply.header('x-content-type-options', 'nosniff');
      done(null, payload);
    });
    // Before any route: the access rule is attached to each route as it is registered.
    registerManagementAccess(admin, services);
    refuseNulInUrl(admin);
    refuseUnknownQuery(admin);
    registerAuditHook(admin, services.audit);
    registerDashboardRoutes(admin, services);
    registerEndpointRoutes(admin, services.endpoints);
    registerAppRoutes(admin, services.apps);
    registerKeyRoutes(admin, services.keys, services.webhooks.callbackSecrets);
    registerUsageRoutes(admin, { db: services.database.db, usage: services.traffic.usage });
    registerWebhookRoutes(admin, services.webhooks);
    registerTransferRoutes(admin, { ...services, db: services.database.db });
    registerTokenAdminRoute(admin, services.tokens);
    registerManagementTokenRoutes(admin, services.owners);
    registerConsoleRoutes(admin, services);
    registerTestRequestRoutes(admin, {
      db: services.database.db,
      keys: services.keys,
      tokens: services.tokens,
      inject: (injected) => app.inject(injected),
    });
    registerAdminApiDocument(admin, routes);
  });

  if (services.config.dashboard.enabled) registerDashboard(app);

  return app;
}
