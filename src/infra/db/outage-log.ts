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
  /**
   * The database was said to be unavailable and no commit has shown it answers again yet. What
   * commits tests this, a field, and calls `answered` only when it is set: nothing more on the
   * success path while there is no outage.
   */
  readonly down: boolean;
  /** A commit went through: if the outage was said, that it is over is said once, to the logger that said it. */
  answered(): void;
}

/** Pino's logger, or Fastify's request.log. */
export interface WarningLog {
  warn(details: object, message: string): void;
  info(details: object, message: string): void;
}

/** How often a failure that repeats (an outage, a gauge that cannot be read) is said at most. */
export const WARN_EVERY_MS = 10_000;

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

/** The end of an outage said with the warning's words: how long, and how many failures it covered. */
export function answersAgainMessage(ms: number, failures: number): string {
  return `The database answers again after ${(ms / 1000).toFixed(1)} s unavailable: ${failures} ${failures === 1 ? 'failure' : 'failures'} in all (requests answered 503, webhook passes and usage flushes retried)`;
}

export function createOutageLog(faults: Faults): OutageLog {
  const last = { unavailable: 0, full: 0 };
  const failures = { unavailable: 0, full: 0 };
  /**
   * The outage said (the database unavailable), until a commit shows it answers again. A full disk
   * is not ended so: a commit that wrote nothing, or little, says nothing of the space left.
   */
  let outage: { since: number; failures: number; logger: WarningLog } | undefined;
  const log: OutageLog & { down: boolean } = {
    down: false,
    noted(error, logger) {
      const kind = faults.isStorageFull(error)
        ? 'full'
        : faults.isUnavailable(error)
          ? 'unavailable'
          : undefined;
      if (!kind) return false;
      failures[kind]++;
      if (outage && kind === 'unavailable') outage.failures++;
      const now = Date.now();
      if (now - last[kind] < WARN_EVERY_MS) return true;
      last[kind] = now;
      const { message, code } = (error ?? {}) as { message?: unknown; code?: unknown };
      // The database's own words, not a stack: it is the same for every failure.
      logger?.warn(
        { cause: { code, message: String(message) }, failures: failures[kind] },
        MESSAGES[faults.name][kind],
      );
      // Only an outage said is said to end: a warning held back (10 s not yet past since the last
      // one) has no end line either, so the two always come in pairs.
      if (kind === 'unavailable' && logger && !outage) {
        outage = { since: now, failures: failures[kind], logger };
        log.down = true;
      }
      failures[kind] = 0;
      return true;
    },
    answered() {
      if (!outage) return;
      const { since, failures: count, logger } = outage;
      outage = undefined;
      log.down = false;
      const ms = Date.now() - since;
      logger.info({ outage_ms: ms, failures: count }, answersAgainMessage(ms, count));
    },
  };
  return log;
}
