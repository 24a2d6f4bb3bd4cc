/** How the database reports its own troubles (the DialectAdapter's two tests). */
interface Faults {
  name: 'sqlite' | 'postgres';
  isUnavailable(error: unknown): boolean;
  isStorageFull(error: unknown): boolean;
}

/**
 * One process's account of a database outage. While the database is unreachable (or its disk
 * full) every request and every webhook pass fails the same way: each is answered (503 or 507)
 * or retried, none is a fault of its own. So the outage is said in one warning every 10 s, with
 * how many failures it covers and the database's own message, not an error line with a stack per
 * request — as limits/redis.ts says that Redis is gone.
 */
export interface OutageLog {
  /** Whether `error` is the database unavailable or full; if so, it is counted (and said, at most every 10 s). */
  noted(error: unknown, logger: WarningLog | undefined): boolean;
}

/** Pino's logger, or Fastify's request.log. */
export interface WarningLog {
  warn(details: object, message: string): void;
}

const WARN_EVERY_MS = 10_000;

const UNAVAILABLE =
  'The database is unavailable: requests are answered 503 service_unavailable and webhook work waits until it answers again.';

const MESSAGES = {
  postgres: {
    unavailable: `${UNAVAILABLE} Check that it is running and accepts connections`,
    full: 'The database disk is full: writes are answered 507 storage_full until space is freed',
  },
  // SQLite runs in this process: busy is another process holding the file's write lock.
  sqlite: {
    unavailable: `${UNAVAILABLE} Check what holds the SQLite file's write lock (another process in a long transaction) and that the file and its directory can be read and written`,
    full: 'The database disk is full: writes are answered 507 storage_full until space is freed',
  },
} as const;

export function createOutageLog(faults: Faults): OutageLog {
  const last = { unavailable: 0, full: 0 };
  const failures = { unavailable: 0, full: 0 };
  return {
    noted(error, logger) {
      const kind = faults.isStorageFull(error)
        ? 'full'
        : faults.isUnavailable(error)
          ? 'unavailable'
          : undefined;
      if (!kind) return false;
      failures[kind]++;
      const now = Date.now();
      if (now - last[kind] < WARN_EVERY_MS) return true;
      last[kind] = now;
      const { message, code } = (error ?? {}) as { message?: unknown; code?: unknown };
      // The database's own words, not a stack: it is the same for every failure.
      logger?.warn(
        { cause: { code, message: String(message) }, failures: failures[kind] },
        MESSAGES[faults.name][kind],
      );
      failures[kind] = 0;
      return true;
    },
  };
}
