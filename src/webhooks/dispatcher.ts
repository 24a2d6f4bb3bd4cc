import { type ExpressionBuilder, sql, type Transaction } from 'kysely';
import type { Logger } from 'pino';
import type { Encryptor } from '../infra/crypto/encryption.ts';
import type { Db } from '../infra/db/database.ts';
import type { DialectAdapter } from '../infra/db/dialect.ts';
import type { OutageLog } from '../infra/db/outage-log.ts';
import type { Database } from '../infra/db/schema.ts';
import type { AddressGuard } from '../infra/http-client/address-guard.ts';
import { keepAliveAgents, type PostResult, postJson } from '../infra/http-client/post-json.ts';
import { isoAfter, nowIso } from '../time.ts';
import type { Callback } from './callback-headers.ts';
import type { CallbackSecrets } from './callback-secrets.ts';
import {
  buildEvent,
  cancelPendingDeliveries,
  DISABLED_ERROR,
  insertEventWithDeliveries,
  originOf,
  splicedRecord,
} from './events.ts';
import { subscribedTargets } from './outbox.ts';
import { signatureHeaders } from './signing.ts';

export interface DispatcherOptions {
  db: Db;
  dialect: DialectAdapter;
  encryptor: Encryptor;
  guard: AddressGuard;
  /** Sign per-request callbacks: each with the secret of the key whose request asked for it. */
  callbackSecrets: CallbackSecrets;
  timeoutMs: number;
  /** Attempts in flight in this process, and per receiving origin. */
  concurrency: number;
  perOrigin: number;
  /** A subscription failing without a success for this long is disabled. */
  disableAfterMs: number;
  /** Told when a retry is recorded, with its due time: the worker wakes then, not at its next poll. */
  onRetry?: (dueAt: string) => void;
  logger?: Logger;
  /** Says the database being down once every 10 s, instead of a failure line per delivery. */
  outage?: OutageLog;
}

const RESPONSE_CAP = 4096;
const INTERRUPTED = 'no outcome: its worker stopped mid-attempt (or its lease ran out), so it is made again';
const MAX_RETRY_AFTER_SECONDS = 3600;

interface Claimed {
  id: string;
  event_id: string;
  event_type: string;
  subscription_id: string | null;
  url: string;
  origin: string;
  auth: string | null;
  attempts: number;
  /** The write that caused it: its Request-Id, for the logs. */
  request_id: string;
  /** A callback's: the API key that made the write (its secret signs); null for a subscription's. */
  key_id: string | null;
  /** A callback's: the generation of its key's callback secret, and until when the one before signs too. */
  callback_secret_generation: number | null;
  callback_secret_previous_until: string | null;
  max_attempts: number;
  interval_seconds: number;
  payload: string;
  secret: string | null;
  previous_secret: string | null;
  previous_secret_expires_at: string | null;
  enabled: number | null;
  /** Last written: for a delivery claimed again after its lease ran out, when that claim was made. */
  updated_at: string;
  /** Set when claimed: the lease written, and when (epoch ms). */
  lease?: string;
  /**
   * Claimed with every attempt used up, none of them with a recorded outcome (a worker stopped
   * mid-attempt at the last one, or it crashed each time): it fails without another send.
   */
  exhausted?: boolean;
  claimedMs?: number;
  /** It waited in memory for a slot: it is checked again before it is sent. */
  held?: boolean;
}

type DeliveryAlias = Database & { d: Database['webhook_deliveries'] };

/** A delivery `d` with no earlier pending one to its target about its record: its turn has come. */
const notBehindAnEarlier = ({ not, exists, selectFrom }: ExpressionBuilder<DeliveryAlias, 'd'>) =>
  not(
    exists(
      selectFrom('webhook_deliveries as earlier')
        .select(sql`1`.as('one'))
        .whereRef('earlier.record_id', '=', 'd.record_id')
        .whereRef('earlier.target', '=', 'd.target')
        .whereRef('earlier.seq', '<', 'd.seq')
        .where('earlier.status', '=', 'pending'),
    ),
  );

function retryAfterSeconds(result: PostResult): number | undefined {
  if (result.status !== 429 && result.status !== 503) return undefined;
  const header = result.headers['retry-after'];
  const value = Array.isArray(header) ? header[0] : header;
  if (!value) return undefined;
  const seconds = /^\d+$/.test(value) ? Number(value) : (Date.parse(value) - Date.now()) / 1000;
  return Number.isFinite(seconds) ? Math.min(Math.max(seconds, 1), MAX_RETRY_AFTER_SECONDS) : undefined;
}

/**
 * Receiver text as the log can store it: PostgreSQL text refuses NUL, and an attempt that cannot
 * be recorded is sent again forever. (The body is already decoded as UTF-8, bad bytes as U+FFFD.)
 */
function storable(text: string): string {
  return text.replaceAll('\u0000', '\uFFFD');
}

function describe(result: PostResult): string | null {
  if (result.error) return storable(result.error);
  if (result.status !== null && (result.status < 200 || result.status >= 300)) {
    return result.status >= 300 && result.status < 400
      ? `answered ${result.status} (redirects are not followed)`
      : `answered ${result.status}`;
  }
  return null;
}

export type Dispatcher = ReturnType<typeof createDispatcher>;

/**
 * Sends due deliveries: claims them with a lease (so a crashed worker's attempts are retried,
 * at least once), POSTs each signed, records every attempt, and schedules retries, per-record
 * order and per-origin concurrency kept.
 */
export function createDispatcher(options: DispatcherOptions) {
  const { db, dialect, encryptor, guard, logger } = options;
  /** Logs a failure, unless the outage log says it: the database is down, and every step fails so. */
  const failed = (level: 'warn' | 'error', details: { err: unknown; delivery?: string }, message: string) => {
    if (!options.outage?.noted(details.err, logger)) logger?.[level](details, message);
  };
  const inFlight = new Set<Promise<void>>();
  const agents = keepAliveAgents(guard, options.perOrigin);
  const perOrigin = new Map<string, number>();
  let pumping = false;
  /** The pass of drain() under way, if any: stop() waits for it. */
  let draining: Promise<void> = Promise.resolve();
  let again = false;
  let stopped = false;
  /**
   * Claimed deliveries waiting for a free slot (their origin's, or the process's): up to one more
   * round per origin, so the next attempt starts the moment one finishes, without a claim in
   * between. Each waits at most one attempt's time; its lease covers two (see claim).
   */
  const held = new Map<string, Claimed[]>();
  let heldCount = 0;
  /** Attempts in flight and held, per origin: the claim takes at most two rounds of perOrigin. */
  const claimedAt = (origin: string) => (perOrigin.get(origin) ?? 0) + (held.get(origin)?.length ?? 0);

  async function claim(limit: number): Promise<Claimed[]> {
    const saturated = [...new Set([...perOrigin.keys(), ...held.keys()])].filter(
      (origin) => claimedAt(origin) >= 2 * options.perOrigin,
    );
    const now = nowIso();
    return db.transaction().execute(async (trx) => {
      let query = trx
        .selectFrom('webhook_deliveries as d')
        .innerJoin('webhook_events as ev', 'ev.id', 'd.event_id')
        .leftJoin('webhook_subscriptions as s', 's.id', 'd.subscription_id')
        // A callback is signed with its request's key's secret; a subscription's needs no request.
        .leftJoin('requests as r', (join) =>
          join.onRef('r.id', '=', 'd.request_id').on('d.subscription_id', 'is', null),
        )
        .leftJoin('api_keys as k', 'k.id', 'r.key_id')
        .select([
          'd.id',
          'd.event_id',
          'd.event_type',
          'd.subscription_id',
          'd.url',
          'd.origin',
          'd.auth',
          'd.attempts',
          'd.request_id',
          'd.updated_at',
        ])
        .select(['d.max_attempts', 'd.interval_seconds', 'ev.payload', 's.secret', 's.previous_secret'])
        .select(['s.previous_secret_expires_at', 's.enabled', 'r.key_id'])
        .select(['k.callback_secret_generation', 'k.callback_secret_previous_until'])
        .where('d.status', '=', 'pending')
        .where('d.next_attempt_at', '<=', now)
        .where(notBehindAnEarlier)
        .orderBy('d.next_attempt_at')
        .orderBy('d.seq')
        .limit(limit);
      if (saturated.length > 0) query = query.where('d.origin', 'not in', saturated);
      if (dialect.claimsWithSkipLocked) query = query.forUpdate('d').skipLocked();
      const found = (await query.execute()) as Claimed[];
      // Never more than two rounds of an origin's allowance claimed at once, counting those in flight.
      const taken = new Map<string, number>();
      const rows = found.filter((row) => {
        const busy = claimedAt(row.origin) + (taken.get(row.origin) ?? 0);
        if (busy >= 2 * options.perOrigin) return false;
        taken.set(row.origin, (taken.get(row.origin) ?? 0) + 1);
        return true;
      });
      if (rows.length === 0) return rows;
      // The lease: if this worker dies mid-attempt, the delivery is due again after it.
      const lease = isoAfter((options.timeoutMs * 2) / 1000 + 5);
      await trx
        .updateTable('webhook_deliveries')
        .set({
          next_attempt_at: lease,
          attempts: sql`case when attempts < max_attempts then attempts + 1 else attempts end`,
          updated_at: now,
        })
        .where(
          'id',
          'in',
          rows.map((r) => r.id),
        )
        .execute();
      await logInterrupted(trx, rows, now);
      const claimedMs = Date.now();
      for (const row of rows) {
        if (row.attempts < row.max_attempts) row.attempts += 1;
        else row.exhausted = true;
        row.lease = lease;
        row.claimedMs = claimedMs;
      }
      return rows;
    });
  }

  /**
   * An attempt counted at its claim but never recorded (its worker was killed mid-attempt, or its
   * lease ran out) gets its line in the log when the delivery is claimed again, so the attempts
   * listed match the count. (A delivery with every attempt used gets its own line: see attempt.)
   */
  async function logInterrupted(trx: Transaction<Database>, rows: Claimed[], now: string): Promise<void> {
    const retaken = rows.filter((row) => row.attempts > 0 && row.attempts < row.max_attempts);
    if (retaken.length === 0) return;
    const logged = await trx
      .selectFrom('webhook_attempts')
      .select(['delivery_id', sql<number>`count(*)`.as('n')])
      .where(
        'delivery_id',
        'in',
        retaken.map((row) => row.id),
      )
      .groupBy('delivery_id')
      .execute();
    const counts = new Map(logged.map((entry) => [entry.delivery_id, Number(entry.n)]));
    const missing = retaken.flatMap((row) =>
      Array.from({ length: Math.max(0, row.attempts - (counts.get(row.id) ?? 0)) }, () => ({
        delivery_id: row.id,
        attempted_at: row.updated_at < now ? row.updated_at : now,
        duration_ms: 0,
        status_code: null,
        response_body: null,
        error: INTERRUPTED,
      })),
    );
    if (missing.length > 0) await trx.insertInto('webhook_attempts').values(missing).execute();
  }

  function signingSecrets(row: Claimed): string[] {
    if (row.subscription_id === null) {
      // Only the data API, always with a key, takes X-Webhook-Callback: the root signs only a
      // callback without a key, which none is.
      if (row.key_id === null) return [options.callbackSecrets.root];
      return options.callbackSecrets.signing(
        row.key_id,
        Number(row.callback_secret_generation ?? 0),
        row.callback_secret_previous_until,
      );
    }
    const secrets = row.secret ? [encryptor.decrypt(row.secret)] : [];
    if (row.previous_secret && row.previous_secret_expires_at && row.previous_secret_expires_at > nowIso()) {
      secrets.push(encryptor.decrypt(row.previous_secret));
    }
    return secrets;
  }

  /** Records one attempt's outcome inside a transaction shared with other attempts (see flushResults). */
  async function applyResult(
    trx: Transaction<Database>,
    row: Claimed,
    result: PostResult,
    now: string,
  ): Promise<string | undefined> {
    const error = describe(result);
    const succeeded = error === null;
    // 410 Gone: the receiver says there is nothing there any more. No more attempts, for a
    // callback as for a subscription (which it also turns off, below).
    const gone = result.status === 410;
    const lastTry = row.attempts >= row.max_attempts;
    // Read now, not at the claim (a success recorded since then cleared failing_since), and on
    // PostgreSQL locked before the delivery: every transaction takes a subscription's row before
    // its deliveries' (turning it off, changing its URL, removing its endpoint), so none deadlock.
    let subscription: { failing_since: string | null; enabled: number } | undefined;
    if (row.subscription_id !== null) {
      const query = trx
        .selectFrom('webhook_subscriptions')
        .select(['failing_since', 'enabled'])
        .where('id', '=', row.subscription_id);
      subscription = await (dialect.claimsWithSkipLocked ? query.forUpdate() : query).executeTakeFirst();
    }
    await trx
      .insertInto('webhook_attempts')
      .values({
        delivery_id: row.id,
        // When it began, not the moment it is recorded less its duration: a flush may run later.
        attempted_at: new Date(result.startedAt).toISOString(),
        duration_ms: result.durationMs,
        status_code: result.status,
        response_body: result.body === '' ? null : storable(result.body),
        error,
      })
      .execute();
    let status = 'pending';
    let next = now;
    if (succeeded) status = 'succeeded';
    else if (gone || lastTry) status = 'failed';
    else {
      const retryAfter = retryAfterSeconds(result);
      next = isoAfter(Math.max(row.interval_seconds, retryAfter ?? 0));
    }
    let update = trx
      .updateTable('webhook_deliveries')
      .set({
        status,
        next_attempt_at: next,
        last_status_code: result.status,
        last_error: error,
        updated_at: now,
      })
      .where('id', '=', row.id)
      .where('status', '=', 'pending');
    // A failure schedules what follows only under this claim's lease: one that ran out (this
    // worker stalled, or its results waited for the database) may be claimed again, and the
    // worker holding it now decides; rescheduling it here would make it due while that worker's
    // attempt is in flight, and a third one would send it again. A success ends it either way.
    if (!succeeded && row.lease !== undefined) update = update.where('next_attempt_at', '=', row.lease);
    const updated = await update.executeTakeFirst();
    if (Number(updated.numUpdatedRows) === 0) {
      // Ended while in flight (its subscription turned off, its endpoint deleted), or claimed
      // again after its lease ran out: the attempt stays in the log and nothing follows here. A
      // cancelled one the receiver took is logged as succeeded (redelivering it would send it
      // twice); its endpoint deleted, it stays failed. Either way the delivery shows what the
      // receiver answered last, unless another worker has delivered it since: a success keeps
      // its own answer.
      await trx
        .updateTable('webhook_deliveries')
        .set({ last_status_code: result.status })
        .where('id', '=', row.id)
        .where('status', '!=', 'succeeded')
        .execute();
      if (succeeded) {
        await trx
          .updateTable('webhook_deliveries')
          .set({ status: 'succeeded', last_error: null, updated_at: now })
          .where('id', '=', row.id)
          .where('status', '=', 'cancelled')
          .execute();
      }
      return undefined;
    }
    if (row.subscription_id !== null) {
      if (succeeded) {
        await trx
          .updateTable('webhook_subscriptions')
          .set({ failing_since: null })
          .where('id', '=', row.subscription_id)
          .execute();
      } else {
        const since = subscription?.failing_since ?? now;
        const tooLong = Date.parse(now) - Date.parse(since) >= options.disableAfterMs;
        const reason = gone
          ? 'The receiver answered 410 Gone'
          : tooLong
            ? `Deliveries failed without a success since ${since}`
            : null;
        await trx
          .updateTable('webhook_subscriptions')
          // Turned off here is a change of the subscription like the owner's: its updated_at says when.
          .set({
            failing_since: since,
            ...(reason ? { enabled: 0, disabled_reason: reason, updated_at: now } : {}),
          })
          .where('id', '=', row.subscription_id)
          .execute();
        if (reason && subscription?.enabled === 1)
          await cancelPendingDeliveries(trx, row.subscription_id, now);
      }
    }
    if (status === 'failed' && row.event_type !== 'request.failed') {
      // Tell the subscribers of request.failed: the result of this request could not be delivered.
      const original = JSON.parse(row.payload) as {
        data: {
          endpoint: string;
          environment: string;
          request_id: string;
          record_id: string;
          operation: string;
        };
      };
      const d = original.data;
      const endpoint = await trx
        .selectFrom('webhook_events')
        .select(['endpoint_id'])
        .where('id', '=', row.event_id)
        .executeTakeFirstOrThrow();
      const targets = await subscribedTargets(trx, endpoint.endpoint_id, d.environment, 'request.failed');
      const event = buildEvent(
        'request.failed',
        {
          endpoint: d.endpoint,
          environment: d.environment,
          request_id: d.request_id,
          record_id: d.record_id,
          operation: d.operation,
          status: 'failed',
          recordJson: splicedRecord(row.payload),
          failure: {
            delivery_id: row.id,
            url: row.url,
            attempts: row.attempts,
            last_status_code: result.status,
            last_error: error,
          },
        },
        now,
      );
      await insertEventWithDeliveries(
        trx,
        event,
        {
          endpointId: endpoint.endpoint_id,
          environment: d.environment,
          requestId: d.request_id,
          recordId: d.record_id,
          maxAttempts: row.max_attempts,
          intervalSeconds: row.interval_seconds,
        },
        targets,
      );
    }
    // The target by its origin: a receiver's URL often holds a secret in its path or query (a
    // Slack-style hook, ?token=), which the delivery log shows its owner and logs must not carry.
    if (!succeeded)
      logger?.info(
        {
          delivery: row.id,
          request_id: row.request_id,
          origin: originOf(row.url),
          attempt: row.attempts,
          error,
        },
        'webhook attempt failed',
      );
    return status === 'pending' ? next : undefined;
  }

  // Outcomes are written in groups: one transaction (one fsync) for all attempts finished in the
  // same turn of the event loop, instead of one per attempt.
  let results: Array<{ row: Claimed; result: PostResult; done: () => void }> = [];
  let flushing = false;

  async function flushResults(): Promise<void> {
    while (results.length > 0) {
      // Subscriptions' rows are locked in one order by every flush (see applyResult).
      const batch = results.sort((a, b) =>
        (a.row.subscription_id ?? '') < (b.row.subscription_id ?? '') ? -1 : 1,
      );
      results = [];
      const now = nowIso();
      let retries: Array<string | undefined> = [];
      try {
        retries = await db.transaction().execute(async (trx) => {
          const due: Array<string | undefined> = [];
          for (const item of batch) due.push(await applyResult(trx, item.row, item.result, now));
          return due;
        });
      } catch {
        // One bad outcome must not lose the others: record them one by one.
        for (const item of batch) {
          retries.push(
            await db
              .transaction()
              .execute((trx) => applyResult(trx, item.row, item.result, now))
              .catch((error: unknown) => {
                failed('error', { err: error, delivery: item.row.id }, 'recording a webhook attempt failed');
                return undefined;
              }),
          );
        }
      }
      const soonest = retries.filter((due) => due !== undefined).sort()[0];
      if (soonest) options.onRetry?.(soonest);
      for (const item of batch) item.done();
    }
  }

  function finish(row: Claimed, result: PostResult): Promise<void> {
    return new Promise<void>((done) => {
      results.push({ row, result, done });
      if (flushing) return;
      flushing = true;
      setImmediate(() => {
        flushResults().finally(() => {
          flushing = false;
          if (results.length > 0) void flushResults();
        });
      });
    });
  }

  /**
   * A row that waited in `held` (up to one attempt's time) may have ended meanwhile: its endpoint
   * deleted (the delivery failed), or it was given back and claimed again. It is sent only if it
   * is still pending under this lease; where it goes and how it is signed are read afresh (its
   * subscription's URL changed, its secret rotated, or it was turned off meanwhile).
   */
  async function stillOurs(row: Claimed): Promise<boolean> {
    const current = await db
      .selectFrom('webhook_deliveries as d')
      .leftJoin('webhook_subscriptions as s', 's.id', 'd.subscription_id')
      .select(['d.status', 'd.next_attempt_at', 'd.url', 'd.origin', 's.enabled', 's.secret'])
      .select(['s.previous_secret', 's.previous_secret_expires_at'])
      .where('d.id', '=', row.id)
      .executeTakeFirst();
    if (current?.status !== 'pending' || current.next_attempt_at !== row.lease) return false;
    if (current.origin !== row.origin) {
      // Moved to another origin: given back, it is claimed again under that origin's allowance.
      await release([row]);
      return false;
    }
    row.url = current.url;
    row.enabled = current.enabled;
    row.secret = current.secret;
    row.previous_secret = current.previous_secret;
    row.previous_secret_expires_at = current.previous_secret_expires_at;
    return true;
  }

  /** `answered` runs once the receiver has answered (or failed): its origin's slot is free again. */
  async function attempt(row: Claimed, answered: () => void): Promise<void> {
    if (row.held && !(await stillOurs(row))) return;
    if (row.subscription_id !== null && row.enabled !== 1) {
      await db
        .updateTable('webhook_deliveries')
        .set({ status: 'cancelled', last_error: DISABLED_ERROR, updated_at: nowIso() })
        .where('id', '=', row.id)
        .execute();
      return;
    }
    if (row.exhausted) {
      answered();
      await finish(row, {
        status: null,
        headers: {},
        body: '',
        error: `not sent again: all ${row.max_attempts} attempts were made, and the last ended without an outcome (its worker stopped mid-attempt)`,
        startedAt: Date.now(),
        durationMs: 0,
      });
      return;
    }
    const eventId = (JSON.parse(row.payload) as { id: string }).id;
    const timestamp = Math.floor(Date.now() / 1000);
    // No prototype: an auth header named `__proto__` is a header like any other.
    const headers: Record<string, string> = Object.assign(Object.create(null) as Record<string, string>, {
      'user-agent': 'Gatehouse-Webhooks/1',
      ...signatureHeaders(signingSecrets(row), eventId, timestamp, row.payload),
    });
    if (row.auth) {
      const callback = JSON.parse(encryptor.decrypt(row.auth)) as Callback;
      if (callback.value !== null) headers[callback.header.toLowerCase()] = callback.value;
    }
    const result = await postJson({
      agents,
      url: row.url,
      headers,
      body: row.payload,
      guard,
      timeoutMs: options.timeoutMs,
      maxBodyBytes: RESPONSE_CAP,
    });
    // Recording the outcome is our work, not the receiver's: the next attempt there can start.
    answered();
    await finish(row, result);
  }

  /** Gives claimed rows back at once (due now, the attempt not counted), unless re-claimed since. */
  async function release(rows: Claimed[]): Promise<void> {
    for (const row of rows) {
      await db
        .updateTable('webhook_deliveries')
        .set({
          next_attempt_at: nowIso(),
          attempts: row.exhausted ? sql`attempts` : sql`attempts - 1`,
          updated_at: nowIso(),
        })
        .where('id', '=', row.id)
        .where('status', '=', 'pending')
        .where('next_attempt_at', '=', row.lease ?? '')
        .execute();
    }
  }

  const hasSlot = (origin: string) =>
    inFlight.size < options.concurrency && (perOrigin.get(origin) ?? 0) < options.perOrigin;

  /** Starts the row now if its origin and the process have a slot; else it waits in `held`. */
  function admit(row: Claimed): void {
    if (hasSlot(row.origin)) {
      launch(row);
      return;
    }
    row.held = true;
    const queue = held.get(row.origin);
    if (queue) queue.push(row);
    else held.set(row.origin, [row]);
    heldCount++;
  }

  /** After an attempt finishes: start held rows that now have a slot; give back any held too long. */
  function startHeld(): void {
    const stale: Claimed[] = [];
    for (const [origin, queue] of held) {
      while (queue.length > 0 && hasSlot(origin)) {
        const row = queue.shift() as Claimed;
        heldCount--;
        // Its lease must still cover a whole attempt: else it goes back to the queue in the database.
        if (Date.now() - (row.claimedMs ?? 0) > options.timeoutMs) stale.push(row);
        else launch(row);
      }
      if (queue.length === 0) held.delete(origin);
    }
    if (stale.length > 0) {
      release(stale).catch((error: unknown) =>
        failed('warn', { err: error }, 'releasing held deliveries failed'),
      );
    }
  }

  function launch(row: Claimed): void {
    perOrigin.set(row.origin, (perOrigin.get(row.origin) ?? 0) + 1);
    let freed = false;
    const free = () => {
      if (freed) return;
      freed = true;
      const left = (perOrigin.get(row.origin) ?? 1) - 1;
      if (left <= 0) perOrigin.delete(row.origin);
      else perOrigin.set(row.origin, left);
    };
    const answered = () => {
      free();
      if (heldCount > 0) startHeld();
    };
    const running = attempt(row, answered)
      .catch((error: unknown) => failed('error', { err: error, delivery: row.id }, 'webhook attempt crashed'))
      .finally(() => {
        inFlight.delete(running);
        free();
        if (heldCount > 0) startHeld();
        pump();
      });
    inFlight.add(running);
  }

  async function drain(): Promise<void> {
    do {
      again = false;
      while (!stopped && inFlight.size + heldCount < 2 * options.concurrency) {
        const rows = await claim(2 * options.concurrency - inFlight.size - heldCount);
        if (rows.length === 0) break;
        // Stopped while the claim ran: what it took goes back, due at once, rather than being
        // sent by a process on its way out (or left under a lease nobody will finish).
        if (stopped) {
          await release(rows);
          return;
        }
        for (const row of rows) admit(row);
        if (inFlight.size >= options.concurrency) break;
      }
    } while (again && !stopped);
  }

  /** Starts whatever is due; overlapping calls collapse into one pass. */
  function pump(): void {
    if (stopped) return;
    if (pumping) {
      again = true;
      return;
    }
    pumping = true;
    draining = drain()
      .catch((error: unknown) => failed('warn', { err: error }, 'webhook dispatcher pass failed'))
      .finally(() => {
        pumping = false;
      });
  }

  return {
    pump,
    /** When the earliest delivery the claim could take falls due (none waiting behind an earlier one). */
    async nextDue(): Promise<string | null> {
      const row = await db
        .selectFrom('webhook_deliveries as d')
        .select('d.next_attempt_at')
        .where('d.status', '=', 'pending')
        .where(notBehindAnEarlier)
        .orderBy('d.next_attempt_at')
        .limit(1)
        .executeTakeFirst();
      return row?.next_attempt_at ?? null;
    },
    /**
     * Stops claiming at once (no attempt starts after this call), gives back what it claimed but
     * has not sent, and waits for the attempts in flight.
     */
    async stop(): Promise<void> {
      stopped = true;
      const waiting = [...held.values()].flat();
      held.clear();
      heldCount = 0;
      // A claim under way gives its rows back itself (drain); after it, nothing more is launched.
      await draining;
      await release(waiting).catch((error: unknown) =>
        failed('warn', { err: error }, 'releasing held deliveries failed'),
      );
      await Promise.allSettled([...inFlight]);
      agents.http.destroy();
      agents.https.destroy();
    },
  };
}
