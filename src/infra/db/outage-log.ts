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
   * The database was said to be unavailable, or its disk full, and no commit has shown it answers
   * (or takes writes) again yet. What commits tests this, a field, and calls `answered` or `wrote`
   * only when it is set: nothing more on the success path while there is no outage.
   */
  readonly down: boolean;
  /** A commit went through: if the outage was said, that it is over is said once, to the logger that said it. */
  answered(): void;
  /**
   * A commit that wrote records went through: as `answered`, and if the disk was said to be full,
   * that writes go through again is said once too. Only a write shows it: a commit that wrote
   * nothing needs no space.
   */
  wrote(): void;
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
  return `The database answers again after ${seconds(ms)} unavailable: ${failuresSaid(failures)} in all (requests answered 503, webhook passes and usage flushes retried)`;
}

/** The end of a full disk said: a write went through, after how long and how many were refused. */
export function writesAgainMessage(ms: number, failures: number): string {
  return `The database takes writes again after ${seconds(ms)} with its disk full: ${failuresSaid(failures)} in all (writes answered 507 storage_full)`;
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const failuresSaid = (n: number) => `${n} ${n === 1 ? 'failure' : 'failures'}`;

type Kind = 'unavailable' | 'full';

export function createOutageLog(faults: Faults): OutageLog {
  const last = { unavailable: 0, full: 0 };
  const failures = { unavailable: 0, full: 0 };
  /**
   * Each trouble said, until a commit shows it is over: any commit for the database unavailable;
   * for a full disk, only one that wrote records (a commit that wrote nothing needs no space).
   */
  const said: Partial<Record<Kind, { since: number; failures: number; logger: WarningLog }>> = {};
  const ended = {
    unavailable: (ms: number, count: number) => ({
      details: { outage_ms: ms, failures: count },
      message: answersAgainMessage(ms, count),
    }),
    full: (ms: number, count: number) => ({
      details: { full_ms: ms, failures: count },
      message: writesAgainMessage(ms, count),
    }),
  };
  const end = (kind: Kind) => {
    const trouble = said[kind];
    if (!trouble) return;
    said[kind] = undefined;
    log.down = said.unavailable !== undefined || said.full !== undefined;
    const { details, message } = ended[kind](Date.now() - trouble.since, trouble.failures);
    trouble.logger.info(details, message);
  };
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
      const trouble = said[kind];
      if (trouble) trouble.failures++;
      const now = Date.now();
      if (now - last[kind] < WARN_EVERY_MS) return true;
      last[kind] = now;
      const { message, code } = (error ?? {}) as { message?: unknown; code?: unknown };
      // The database's own words, not a stack: it is the same for every failure.
      logger?.warn(
        { cause: { code, message: String(message) }, failures: failures[kind] },
        MESSAGES[faults.name][kind],
      );
      // Only a trouble said is said to end: a warning held back (10 s not yet past since the last
      // one) has no end line either, so the two always come in pairs.
      if (logger && !trouble) {
        said[kind] = { since: now, failures: failures[kind], logger };
        log.down = true;
      }
      failures[kind] = 0;
      return true;
    },
    answered() {
      end('unavailable');
    },
    wrote() {
      end('unavailable');
      end('full');
    },
  };
  return log;
}
