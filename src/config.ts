import { parseCidr } from './infra/http-client/address-guard.ts';
import { unreachableLimits } from './limits/windows.ts';
/** Configuration, parsed once at start-up. Nothing else reads `process.env`. */

export type DatabaseConfig = { kind: 'sqlite'; path: string } | { kind: 'postgres'; url: string };

export interface Config {
  port: number;
  host: string;
  database: DatabaseConfig;
  redisUrl: string | undefined;
  /** Installation secret; when unset, one is generated on first run and kept in the database. */
  secret: string | undefined;
  /** GATEHOUSE_NEW_SECRET: the secret `gatehouse secret rotate` moves to (generated when unset, on a file). */
  newSecret: string | undefined;
  keyPrefix: string;
  webhookAllowNets: string[];
  /**
   * The reverse proxies in front (GATEHOUSE_TRUST_PROXY: their addresses or CIDRs): from these
   * peers X-Forwarded-For names the client and X-Forwarded-Proto the protocol. Empty: the peer
   * is the client.
   */
  trustProxy: string[];
  /**
   * Strict-Transport-Security on answers to requests that arrived over HTTPS (through a trusted
   * proxy): max-age in seconds, 0 for no header (GATEHOUSE_HSTS_MAX_AGE), and includeSubDomains
   * when opted in (GATEHOUSE_HSTS_INCLUDE_SUBDOMAINS=true).
   */
  hsts: { maxAge: number; includeSubDomains: boolean };
  logLevel: string;
  /** Grace period for the old secret of a rolled key. */
  keyRollGraceSeconds: number;
  /** A client has this long to send its request headers, and this long for the whole request (slow-drip defence). */
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  /** How long cached key/endpoint lookups live before they are re-read (changes in this process apply at once). */
  cacheTtlMs: number;
  /** GATEHOUSE_URL: the server the CLI talks to, when not this machine's HOST:PORT. */
  apiUrl: string | undefined;
  /** This installation's own address, from HOST and PORT. */
  localUrl: string;
  /** Management token for the CLI. */
  token: string | undefined;
  /** How long a CLI command waits for the server's answer (GATEHOUSE_CLI_TIMEOUT_MS). */
  cliTimeoutMs: number;
  /** Where `gatehouse init` keeps the CLI's token (mode 0600) so later commands need no flags. */
  cliCredentialsPath: string;
  /** Rate limits, quotas, brute-force protection, idempotency and usage metering (docs/limits.md). */
  limits: LimitsConfig;
  webhooks: WebhooksConfig;
  /** HTTP processes for `start`/`serve` (GATEHOUSE_WORKERS; `--workers` overrides). */
  workers: number;
  /**
   * After SIGTERM, how long an API server goes on serving, with `/ready` answering 503, before it
   * stops listening (GATEHOUSE_SHUTDOWN_DELAY_MS): time for a load balancer to take it out.
   */
  shutdownDelayMs: number;
  /** Serve the interactive API reference at /docs (GATEHOUSE_PUBLIC_DOCS=false hides it). */
  publicDocs: boolean;
  /** When set, `/metrics` answers only `Authorization: Bearer <this>` (GATEHOUSE_METRICS_TOKEN). */
  metricsToken: string | undefined;
  /** Answer plain GET-by-id and create calls outside Fastify (records/fast-path.ts); GATEHOUSE_FAST_PATH=false turns it off. */
  fastPath: boolean;
  /** Dashboard sign-in sessions (docs/dashboard.md). */
  sessions: { idleHours: number; maxDays: number };
  /**
   * Audit entries older than this many days are pruned (GATEHOUSE_AUDIT_RETENTION_DAYS); failed
   * sign-ins of emails no user has go after a day (dashboard/audit-retention.ts).
   */
  audit: { retentionDays: number };
  /** Where the built dashboard is (web/dist); GATEHOUSE_DASHBOARD=false serves none. */
  dashboard: { enabled: boolean };
}

/** Outbound webhook delivery (docs/webhooks.md). */
export interface WebhooksConfig {
  /** Connect + response deadline for one attempt. */
  timeoutMs: number;
  /** Attempts in flight per worker process, and per receiving origin (so one slow receiver cannot starve the rest). */
  concurrency: number;
  perOrigin: number;
  /** A subscription that has failed without a success for this long is disabled. */
  disableAfterHours: number;
  /** Deliveries and attempts older than this are pruned. */
  retentionDays: number;
  /** Fallback poll of the outbox for writes made by other processes. */
  pollMs: number;
}

export interface LimitsConfig {
  /** Installation-wide limits for keys that set none for a window (GATEHOUSE_DEFAULT_PER_MINUTE/DAY/MONTH). */
  defaults: { per_minute?: number; per_day?: number; per_month?: number };
  /** Redis unreachable: `open` serves requests uncounted with a logged warning, `closed` answers 503. */
  onRedisFailure: 'open' | 'closed';
  /** Prefix of every Redis key Gatehouse writes, so installations can share one Redis. */
  redisPrefix: string;
  /** The longest a Redis command may take before it counts as failed. */
  redisTimeoutMs: number;
  /** Invalid API keys one client address may present per window before it gets 429. */
  authFailureLimit: number;
  authFailureWindowSeconds: number;
  idempotencyTtlSeconds: number;
  usageFlushMs: number;
}

type Env = Record<string, string | undefined>;

/** A mistake in how the installation is set up (environment, secret, database): said in one line. */
export class ConfigError extends Error {
  constructor(
    message: string,
    readonly code: 'config_error' | 'database_unreachable' = 'config_error',
  ) {
    super(message);
  }
}

/** Comma-separated addresses or CIDRs, each checked now rather than when first used. */
function networks(raw: string | undefined, name: string): string[] {
  const nets = (raw ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const net of nets) {
    try {
      parseCidr(net);
    } catch (error) {
      throw new ConfigError(`${name}: ${(error as Error).message}`);
    }
  }
  return nets;
}

/** An opt-in switch: unset or empty is `fallback`; anything but true or false is a config error. */
function flag(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (raw !== 'true' && raw !== 'false') throw new ConfigError(`${name} must be true or false, got "${raw}"`);
  return raw === 'true';
}

function int(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name} must be an integer between ${min} and ${max}, got "${raw}"`);
  }
  return value;
}

export function parseDatabaseUrl(url: string): DatabaseConfig {
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) return { kind: 'postgres', url };
  if (url.startsWith('sqlite:')) {
    const path = url.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, '');
    if (path === '')
      throw new ConfigError('DATABASE_URL sqlite: needs a file path, e.g. sqlite:./data/gatehouse.db');
    // `sqlite://./data/x.db` left `//./data/x.db`, which the system reads as /data/x.db: a new,
    // empty database at the root, not the one in ./data.
    if (path.startsWith('//')) {
      throw new ConfigError(
        `DATABASE_URL "${url}" is not a file path: write sqlite:./data/gatehouse.db for a file relative to the working folder, or sqlite:///var/lib/gatehouse/gatehouse.db for an absolute one`,
      );
    }
    return { kind: 'sqlite', path };
  }
  throw new ConfigError(`DATABASE_URL must start with sqlite: or postgres://, got "${withoutPassword(url)}"`);
}

/** A URL as an error quotes it: the password (from the user's `:` to the last `@`) masked. */
export function withoutPassword(url: string): string {
  const at = url.lastIndexOf('@');
  const colon = url.indexOf(':', /^[a-z][a-z0-9+.-]*:\/*/i.exec(url)?.[0].length ?? 0);
  return colon < 0 || colon > at ? url : `${url.slice(0, colon + 1)}***${url.slice(at)}`;
}

/**
 * REDIS_URL: redis:// (rediss:// for TLS). ioredis reads anything else its own way, without a
 * word: `http://host:6379` as a socket path, `host:6379/7` as database 0.
 */
function redisUrl(url: string | undefined): string | undefined {
  if (!url) return undefined;
  if (!/^rediss?:\/\/[^/]/i.test(url)) {
    throw new ConfigError(
      `REDIS_URL must be redis://host:6379 (or redis://host:6379/<db>, rediss:// for TLS), got "${withoutPassword(url)}"`,
    );
  }
  return url;
}

function optionalInt(env: Env, name: string): number | undefined {
  const value = int(env, name, 0, 0, 1_000_000_000_000);
  return value === 0 ? undefined : value;
}

const DEFAULT_LIMIT_VARIABLES = {
  per_minute: 'GATEHOUSE_DEFAULT_PER_MINUTE',
  per_day: 'GATEHOUSE_DEFAULT_PER_DAY',
  per_month: 'GATEHOUSE_DEFAULT_PER_MONTH',
} as const;

/**
 * A default above a longer window's default (per minute 5000, per day 1000) could never be
 * reached, as a key's own limits could not (keys/key-input.ts refuses those with a 400): refused
 * at start-up, naming both variables, rather than run as if it meant something.
 */
function refuseUnreachableDefaults(defaults: LimitsConfig['defaults']): void {
  for (const { shorter, longer, low, high } of unreachableLimits(defaults)) {
    const [lowName, highName] = [DEFAULT_LIMIT_VARIABLES[shorter], DEFAULT_LIMIT_VARIABLES[longer]];
    throw new ConfigError(
      `${lowName} (${low}) cannot be more than ${highName} (${high}): lower ${lowName} or raise ${highName}`,
    );
  }
}

function loadLimitsConfig(env: Env): LimitsConfig {
  const onRedisFailure = env.GATEHOUSE_LIMITS_ON_REDIS_FAILURE || 'open';
  if (onRedisFailure !== 'open' && onRedisFailure !== 'closed') {
    throw new ConfigError(
      `GATEHOUSE_LIMITS_ON_REDIS_FAILURE must be open or closed, got "${onRedisFailure}"`,
    );
  }
  const defaults: LimitsConfig['defaults'] = {};
  const perMinute = optionalInt(env, 'GATEHOUSE_DEFAULT_PER_MINUTE');
  const perDay = optionalInt(env, 'GATEHOUSE_DEFAULT_PER_DAY');
  const perMonth = optionalInt(env, 'GATEHOUSE_DEFAULT_PER_MONTH');
  if (perMinute !== undefined) defaults.per_minute = perMinute;
  if (perDay !== undefined) defaults.per_day = perDay;
  if (perMonth !== undefined) defaults.per_month = perMonth;
  refuseUnreachableDefaults(defaults);
  return {
    defaults,
    onRedisFailure,
    // Empty is unset, as for every other variable (an env file's `GATEHOUSE_REDIS_PREFIX=`).
    redisPrefix: env.GATEHOUSE_REDIS_PREFIX || 'gatehouse:',
    redisTimeoutMs: int(env, 'GATEHOUSE_REDIS_TIMEOUT_MS', 500, 10, 60_000),
    authFailureLimit: int(env, 'GATEHOUSE_AUTH_FAILURE_LIMIT', 20, 1, 1_000_000),
    authFailureWindowSeconds: int(env, 'GATEHOUSE_AUTH_FAILURE_WINDOW_SECONDS', 900, 1, 86_400),
    idempotencyTtlSeconds: int(env, 'GATEHOUSE_IDEMPOTENCY_TTL_SECONDS', 86_400, 1, 30 * 86_400),
    usageFlushMs: int(env, 'GATEHOUSE_USAGE_FLUSH_MS', 5_000, 10, 3_600_000),
  };
}

/**
 * The configuration, read from the environment when a command first needs it: a bad variable
 * fails that command with a clear error, not `--help` or a command that never reads it.
 */
export function lazyConfig(env: Env = process.env): Config {
  let loaded: Config | undefined;
  const load = () => {
    loaded ??= loadConfig(env);
    return loaded;
  };
  return new Proxy({} as Config, {
    get: (_target, name) => load()[name as keyof Config],
    has: (_target, name) => name in load(),
    ownKeys: () => Reflect.ownKeys(load()),
    getOwnPropertyDescriptor: (_target, name) => {
      const descriptor = Reflect.getOwnPropertyDescriptor(load(), name);
      return descriptor ? { ...descriptor, configurable: true } : undefined;
    },
  });
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** pino's levels; any other is a config error here, not a stack trace from pino at startup. */
function logLevel(value: string | undefined): string {
  if (!value) return 'info';
  if (!LOG_LEVELS.includes(value)) {
    throw new ConfigError(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got "${value}"`);
  }
  return value;
}

/** The database without DATABASE_URL: relative to the folder the command runs in. */
export const DEFAULT_SQLITE_PATH = './data/gatehouse.db';

export function loadConfig(env: Env = process.env): Config {
  const port = int(env, 'PORT', 4000, 0, 65535);
  const host = env.HOST || '127.0.0.1';
  const keyPrefix = env.GATEHOUSE_KEY_PREFIX || 'gk';
  if (!/^[a-z][a-z0-9]{0,7}$/.test(keyPrefix)) {
    throw new ConfigError(
      'GATEHOUSE_KEY_PREFIX must be 1-8 lowercase letters or digits, starting with a letter',
    );
  }
  const displayHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  return {
    port,
    host,
    database: parseDatabaseUrl(env.DATABASE_URL || `sqlite:${DEFAULT_SQLITE_PATH}`),
    redisUrl: redisUrl(env.REDIS_URL),
    secret: env.GATEHOUSE_SECRET || undefined,
    newSecret: env.GATEHOUSE_NEW_SECRET || undefined,
    keyPrefix,
    webhookAllowNets: networks(env.GATEHOUSE_WEBHOOK_ALLOW_NETS, 'GATEHOUSE_WEBHOOK_ALLOW_NETS'),
    trustProxy: networks(env.GATEHOUSE_TRUST_PROXY, 'GATEHOUSE_TRUST_PROXY'),
    hsts: {
      maxAge: int(env, 'GATEHOUSE_HSTS_MAX_AGE', 31_536_000, 0, 315_360_000),
      includeSubDomains: flag(env, 'GATEHOUSE_HSTS_INCLUDE_SUBDOMAINS', false),
    },
    // Read when a logger is made (servers, workers): a management command never logs, so a
    // LOG_LEVEL meant for another tool (DEBUG) does not stop it.
    get logLevel() {
      return logLevel(env.LOG_LEVEL);
    },
    keyRollGraceSeconds: int(env, 'GATEHOUSE_KEY_ROLL_GRACE_SECONDS', 86_400, 0, 30 * 86_400),
    headersTimeoutMs: int(env, 'GATEHOUSE_HEADERS_TIMEOUT_MS', 10_000, 100, 600_000),
    requestTimeoutMs: int(env, 'GATEHOUSE_REQUEST_TIMEOUT_MS', 30_000, 100, 3_600_000),
    cacheTtlMs: int(env, 'GATEHOUSE_CACHE_TTL_MS', 1_000, 0, 3_600_000),
    apiUrl: env.GATEHOUSE_URL || undefined,
    localUrl: `http://${displayHost.includes(':') ? `[${displayHost}]` : displayHost}:${port}`,
    token: env.GATEHOUSE_TOKEN || undefined,
    cliCredentialsPath: env.GATEHOUSE_CLI_CREDENTIALS || './data/cli-credentials.json',
    cliTimeoutMs: int(env, 'GATEHOUSE_CLI_TIMEOUT_MS', 120_000, 1, 86_400_000),
    limits: loadLimitsConfig(env),
    workers: int(env, 'GATEHOUSE_WORKERS', 1, 1, 64),
    shutdownDelayMs: int(env, 'GATEHOUSE_SHUTDOWN_DELAY_MS', 0, 0, 600_000),
    publicDocs: flag(env, 'GATEHOUSE_PUBLIC_DOCS', true),
    metricsToken: env.GATEHOUSE_METRICS_TOKEN || undefined,
    fastPath: flag(env, 'GATEHOUSE_FAST_PATH', true),
    sessions: {
      idleHours: int(env, 'GATEHOUSE_SESSION_IDLE_HOURS', 12, 1, 24 * 30),
      maxDays: int(env, 'GATEHOUSE_SESSION_MAX_DAYS', 7, 1, 90),
    },
    // At least 30 days: the sign-in limits spare the clients a user signed in from in the last 30
    // (dashboard/user-service.ts KNOWN_CLIENT_DAYS), and read that from the log.
    audit: { retentionDays: int(env, 'GATEHOUSE_AUDIT_RETENTION_DAYS', 365, 30, 36_500) },
    dashboard: { enabled: flag(env, 'GATEHOUSE_DASHBOARD', true) },
    webhooks: {
      timeoutMs: int(env, 'GATEHOUSE_WEBHOOK_TIMEOUT_MS', 10_000, 100, 120_000),
      concurrency: int(env, 'GATEHOUSE_WEBHOOK_CONCURRENCY', 64, 1, 10_000),
      perOrigin: int(env, 'GATEHOUSE_WEBHOOK_PER_ORIGIN', 16, 1, 1_000),
      disableAfterHours: int(env, 'GATEHOUSE_WEBHOOK_DISABLE_AFTER_HOURS', 120, 1, 24 * 365),
      retentionDays: int(env, 'GATEHOUSE_DELIVERY_RETENTION_DAYS', 30, 1, 3650),
      pollMs: int(env, 'GATEHOUSE_WEBHOOK_POLL_MS', 1_000, 10, 600_000),
    },
  };
}
