import assert from 'node:assert/strict';
import { after, afterEach, before, describe, mock, test } from 'node:test';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import type { Db } from '../src/infra/db/database.ts';
import { createDispatcher } from '../src/webhooks/dispatcher.ts';
import { createWebhookWorker, type WebhookWorker } from '../src/webhooks/worker.ts';
import { databaseKinds } from './helpers/database.ts';
import { deferred } from './helpers/deferred.ts';
import { startTestServer, type TestServer } from './helpers/server.ts';

/** Lets every promise continuation queued so far run (an immediate comes after all of them). */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * After each pass the worker reads when the next delivery falls due and sets its wake-up timer
 * from that read. An attempt that fails during the read records a retry and sets the timer for
 * it (the dispatcher's onRetry); the read, begun before that retry was written, does not see it.
 * The `armed` count tells the worker the timer was set meanwhile, so that the read does not
 * clear it. Here the read is held (the dispatcher wrapped through the worker's seam) and the
 * retry is told in that gap; the clock is node:test's, so "does the worker wake when the retry
 * falls due" is a tick and a count, not a wait.
 */
for (const kind of databaseKinds) {
  describe(`the webhook worker's wake-up for a retry recorded during its read (${kind})`, () => {
    let server: TestServer;
    let worker: WebhookWorker | undefined;
    /**
     * The worker's own connections on PostgreSQL, from a pool without timers: the mocked clock
     * takes over clearTimeout too, and would leave the server pool's idle timers running.
     */
    let db: Db;
    before(async () => {
      server = await startTestServer(kind);
      db =
        kind === 'postgres'
          ? new Kysely({
              dialect: new PostgresDialect({
                pool: new pg.Pool({ connectionString: server.database.url, idleTimeoutMillis: 0 }),
              }),
            })
          : server.services.database.db;
    });
    afterEach(async () => {
      mock.timers.reset();
      await worker?.stop();
      worker = undefined;
    });
    after(async () => {
      if (db !== server.services.database.db) await db.destroy();
      await server.close();
    });

    /** A worker over the test database whose dispatcher counts its pumps and can hold one nextDue(). */
    function startWorker() {
      const { config, database, encryptor, webhooks } = server.services;
      const state = {
        pumps: 0,
        onRetry: (_dueAt: string) => {},
        /** Set by the test: the next nextDue() tells `read` what it read, then waits for `goOn`. */
        hold: undefined as undefined | { read: (next: string | null) => void; goOn: Promise<void> },
      };
      worker = createWebhookWorker(
        {
          db,
          dialect: database.dialect,
          encryptor,
          callbackSecrets: webhooks.callbackSecrets,
          allowNets: config.webhookAllowNets,
          ...config.webhooks,
          disableAfterMs: config.webhooks.disableAfterHours * 3_600_000,
          // No fallback poll: only the wake-up timer can start the retry.
          pollMs: 3_600_000,
        },
        (options) => {
          state.onRetry = (dueAt) => options.onRetry?.(dueAt);
          const real = createDispatcher(options);
          return {
            ...real,
            pump() {
              state.pumps++;
              real.pump();
            },
            async nextDue() {
              const next = await real.nextDue();
              const hold = state.hold;
              if (hold) {
                state.hold = undefined;
                hold.read(next);
                await hold.goOn;
              }
              return next;
            },
          };
        },
      );
      return state;
    }

    /** Starts a pass and holds its read of the next due time: resolves with what it read. */
    async function passHeldAtItsRead(state: ReturnType<typeof startWorker>) {
      const read = deferred<string | null>();
      const goOn = deferred();
      state.hold = { read: read.resolve, goOn: goOn.promise };
      worker?.wake();
      return { read: await read.promise, goOn: goOn.resolve };
    }

    // The timeout: a pass that never reaches the held read fails the test instead of hanging it.
    test('a retry recorded while the worker reads the next due time still wakes it when due', {
      timeout: 60_000,
    }, async () => {
      const state = startWorker();
      const pass = await passHeldAtItsRead(state);
      assert.equal(pass.read, null, 'the read saw nothing pending');

      mock.timers.enable({ apis: ['setTimeout', 'Date'], now: Date.now() });
      // An attempt failed meanwhile: its retry, due in 30 s, is recorded and told to the worker.
      state.onRetry(new Date(Date.now() + 30_000).toISOString());
      pass.goOn();
      await settle();

      const pumps = state.pumps;
      mock.timers.tick(30_005);
      assert.equal(state.pumps, pumps + 1, 'the worker woke for the retry when it fell due');
    });

    test('with no retry recorded during the read, the wake-up is set from what it read', {
      timeout: 60_000,
    }, async () => {
      const state = startWorker();
      mock.timers.enable({ apis: ['setTimeout', 'Date'], now: Date.now() });
      // A wake-up set before the pass, for a delivery that is gone by the time the pass reads.
      state.onRetry(new Date(Date.now() + 30_000).toISOString());
      const pass = await passHeldAtItsRead(state);
      assert.equal(pass.read, null);
      pass.goOn();
      await settle();

      const pumps = state.pumps;
      mock.timers.tick(60_005);
      assert.equal(state.pumps, pumps, 'no wake-up for what the read no longer saw');
    });
  });
}
