import type { Logger } from 'pino';
import type { Encryptor } from '../infra/crypto/encryption.ts';
import type { Db } from '../infra/db/database.ts';
import type { DialectAdapter } from '../infra/db/dialect.ts';
import type { OutageLog } from '../infra/db/outage-log.ts';
import { AddressGuard } from '../infra/http-client/address-guard.ts';
import type { CallbackSecrets } from './callback-secrets.ts';
import { createDispatcher } from './dispatcher.ts';
import { processOutbox } from './outbox.ts';

export interface WebhookWorkerOptions {
  db: Db;
  dialect: DialectAdapter;
  encryptor: Encryptor;
  callbackSecrets: CallbackSecrets;
  allowNets: readonly string[];
  timeoutMs: number;
  concurrency: number;
  perOrigin: number;
  disableAfterMs: number;
  retentionDays: number;
  /**
   * Other tables' pruning (the audit log's), run with this worker's hourly prune; `stopping` says
   * the worker is stopping, to end a long prune between its batches.
   */
  alsoPrune?: (stopping: () => boolean) => Promise<unknown>;
  /**
   * How long after `start` the first prune runs (then hourly): a minute by default, so that a
   * server restarted more often than hourly still prunes, and the prune stays clear of startup.
   */
  firstPruneMs?: number;
  /** Fallback poll for writes committed by other processes. */
  pollMs: number;
  logger?: Logger;
  /** Says the database being down once every 10 s, instead of a line per failed pass. */
  outage?: OutageLog;
}

export interface WebhookWorker {
  /** Called after a local commit: process the outbox now (no polling sleep on the hot path). */
  wake(): void;
  start(): void;
  /**
   * Deletes ended deliveries (and their attempts and events), and processed outbox rows no
   * delivery names, past the retention, then runs `alsoPrune`: once started, after `firstPruneMs`
   * (a minute), then hourly.
   */
  prune(): Promise<void>;
  /** Stops taking work, finishes the attempts in flight. */
  stop(): Promise<void>;
}

/** Processed outbox rows deleted per statement when pruning. */
const PRUNE_CHUNK = 5_000;
/** The first prune after a start, then one an hour. */
const FIRST_PRUNE_MS = 60_000;
const PRUNE_EVERY_MS = 3_600_000;

/**
 * `makeDispatcher` is a test seam, the real one unless a test hands in a wrapper:
 * test/race-worker-armed.test.ts holds the dispatcher's nextDue() read to record a retry during it.
 */

export function createWebhookWorker(
  options: WebhookWorkerOptions,
  makeDispatcher: typeof createDispatcher = createDispatcher,
): WebhookWorker {
  const { db, dialect, logger } = options;
  /** Logs a failure, unless the outage log says it: the database is down, and every pass fails so. */
  const failed = (error: unknown, message: string) => {
    if (!options.outage?.noted(error, logger)) logger?.warn({ err: error }, message);
  };
  const dispatcher = makeDispatcher({
    ...options,
    guard: new AddressGuard(options.allowNets),
    onRetry: (dueAt) => wakeAt(Date.parse(dueAt)),
  });
  let running = false;
  let rerun = false;
  let stopped = false;
  let poll: NodeJS.Timeout | undefined;
  let prune: NodeJS.Timeout | undefined;
  let retryTimer: NodeJS.Timeout | undefined;
  let passes: Promise<void> = Promise.resolve();
  /** The timed prune under way: a stop waits for it, rather than close the database under it. */
  let pruning: Promise<void> = Promise.resolve();

  /** When the retry timer fires (epoch ms); Infinity when none is set. */
  let retryAt = Number.POSITIVE_INFINITY;
  /** How often the timer was set: a timer set while nextDue() ran knows of a newer retry. */
  let armed = 0;

  /** Wakes at `at` (epoch ms), unless the timer is set to wake sooner already. */
  function wakeAt(at: number): void {
    if (stopped || at >= retryAt) return;
    armed++;
    if (retryTimer) clearTimeout(retryTimer);
    const delay = Math.max(0, Math.min(at - Date.now(), 60_000));
    retryAt = Date.now() + delay;
    retryTimer = setTimeout(() => {
      retryAt = Number.POSITIVE_INFINITY;
      // Capped at a minute: not due yet, wait on.
      if (at > Date.now() + 5) return wakeAt(at);
      dispatcher.pump();
      // Then on to the retry after it; no sooner than 250 ms, should the claim not take what is
      // due (its origin busy, say: a finished attempt starts the next there anyway).
      void scheduleRetry(250).catch(() => {});
    }, delay + 5);
    retryTimer.unref();
  }

  /** Wakes again when the earliest pending delivery falls due (a retry, or a lease that ends). */
  async function scheduleRetry(atLeastMs = 0): Promise<void> {
    const seen = armed;
    const next = await dispatcher.nextDue();
    // Set afresh from what the database says, unless a retry recorded meanwhile set it: it may
    // be sooner than what this read saw.
    if (armed === seen) {
      if (retryTimer) clearTimeout(retryTimer);
      retryAt = Number.POSITIVE_INFINITY;
    }
    if (next) wakeAt(Math.max(Date.parse(next), Date.now() + atLeastMs));
  }

  async function pass(): Promise<void> {
    do {
      rerun = false;
      while (!stopped && (await processOutbox(db, dialect, options.encryptor)) > 0) dispatcher.pump();
      dispatcher.pump();
    } while (rerun && !stopped);
    if (!stopped) await scheduleRetry();
  }

  function wake(): void {
    if (stopped) return;
    if (running) {
      rerun = true;
      return;
    }
    running = true;
    passes = new Promise<void>((resolve) => setImmediate(resolve))
      .then(pass)
      .catch((error: unknown) => failed(error, 'webhook worker pass failed'))
      .finally(() => {
        running = false;
        if (rerun) wake();
      });
  }

  async function pruneOld(): Promise<void> {
    const cutoff = new Date(Date.now() - options.retentionDays * 86_400_000).toISOString();
    const old = db
      .selectFrom('webhook_deliveries')
      .select('id')
      .where('created_at', '<', cutoff)
      .where('status', '!=', 'pending');
    await db.deleteFrom('webhook_attempts').where('delivery_id', 'in', old).execute();
    await db
      .deleteFrom('webhook_deliveries')
      .where('created_at', '<', cutoff)
      .where('status', '!=', 'pending')
      .execute();
    await db
      .deleteFrom('webhook_events')
      .where('created_at', '<', cutoff)
      .where(({ not, exists, selectFrom }) =>
        not(
          exists(
            selectFrom('webhook_deliveries as d')
              .select('d.id')
              .whereRef('d.event_id', '=', 'webhook_events.id'),
          ),
        ),
      )
      .execute();
    // The outbox rows of writes processed as long ago, once no delivery names them: in chunks,
    // so that a first prune of a large table does not hold the writers up for long.
    for (;;) {
      const gone = await db
        .deleteFrom('requests')
        .where('seq', 'in', (eb) =>
          eb
            .selectFrom('requests as r')
            .select('r.seq')
            .where('r.status', '=', 'processed')
            .where('r.processed_at', '<', cutoff)
            .where(({ not, exists, selectFrom }) =>
              not(
                exists(
                  selectFrom('webhook_deliveries as d').select('d.id').whereRef('d.request_id', '=', 'r.id'),
                ),
              ),
            )
            .limit(PRUNE_CHUNK),
        )
        .executeTakeFirst();
      if (stopped || Number(gone.numDeletedRows) < PRUNE_CHUNK) break;
    }
  }

  /** Each table's pruning on its own: one failing does not keep the other's table growing. */
  async function pruneAll(): Promise<void> {
    const outcomes = await Promise.allSettled([pruneOld(), options.alsoPrune?.(() => stopped)]);
    const failure = outcomes.find((outcome) => outcome.status === 'rejected');
    if (failure) throw failure.reason;
  }

  return {
    wake,
    prune: pruneAll,
    start() {
      wake();
      poll = setInterval(wake, options.pollMs);
      poll.unref();
      // The first prune soon after the start, not an hour after it: a server restarted more often
      // than hourly (deploys, `gatehouse start` on a laptop) would otherwise never prune.
      const pruneAfter = (nextMs: number) => {
        prune = setTimeout(() => {
          pruning = pruneAll()
            .catch((error: unknown) => failed(error, 'pruning deliveries or the audit log failed'))
            .finally(() => {
              if (!stopped) pruneAfter(PRUNE_EVERY_MS);
            });
        }, nextMs);
        prune.unref();
      };
      pruneAfter(options.firstPruneMs ?? FIRST_PRUNE_MS);
    },
    async stop() {
      stopped = true;
      for (const timer of [poll, prune, retryTimer]) if (timer) clearTimeout(timer);
      // The dispatcher stops claiming now, not once the pass under way ends: that pass would
      // otherwise start new attempts after the stop was asked for.
      const dispatcherStopped = dispatcher.stop();
      await passes;
      await dispatcherStopped;
      await pruning;
    },
  };
}
