import type BetterSqlite3 from 'better-sqlite3';
import { sql, type Transaction } from 'kysely';
import { ApiError } from '../errors.ts';
import type { Db } from '../infra/db/database.ts';
import { type DialectAdapter, retryWhileLocked } from '../infra/db/dialect.ts';
import type { OutageLog } from '../infra/db/outage-log.ts';
import { preparedQuery } from '../infra/db/prepared.ts';
import type { Database } from '../infra/db/schema.ts';
import {
  type SqliteWriteThread,
  startSqliteWriteThread,
  THREAD_STOPPED,
  type ThreadResult,
  type ThreadRow,
  type WriteThreadOptions,
} from '../infra/db/sqlite-write-thread.ts';
import type { Environment } from '../keys/key-service.ts';
import { nowIso } from '../time.ts';
import { operationEvent } from '../webhooks/events.ts';
import { queuedBody, type RecordRow, recordJson } from './record-json.ts';

export type WriteOperation = 'create' | 'replace' | 'delete';

export interface WriteCommand {
  operation: WriteOperation;
  endpointId: string;
  slug: string;
  environment: Environment;
  recordId: string;
  /** The record's data as JSON text; null for delete. */
  data: string | null;
  requestId: string;
  keyId: string | null;
  /** `console` writes (owner's production console) fire no webhooks. */
  source: 'api' | 'console' | 'import';
  /** Encrypted per-request callback, if the caller asked for one. */
  callback: string | null;
  /** An Idempotency-Key's record, stored with the write's response: both commit or neither. */
  idempotency?: IdempotencyRecord;
  /** More statements that must commit or roll back with this write (they keep it off SQLite's write thread). */
  alsoInTransaction?: (trx: Transaction<Database>, outcome: WriteOutcome) => Promise<void>;
}

/**
 * What a write with an Idempotency-Key stores (idempotency/idempotency-service.ts replays it): the
 * request id is the write's, the response its 202. A live record of the same key (a duplicate that
 * got past the in-flight lock and committed first) fails the write with 409, so there is one.
 */
export interface IdempotencyRecord {
  keyId: string;
  key: string;
  fingerprint: string;
  /** When the key is forgotten (ISO 8601); an expired record of the key not yet pruned is replaced. */
  expiresAt: string;
}

export type WriteOutcome = { ok: true; recordId: string; version: number } | { ok: false; error: ApiError };

export interface RecordWriter {
  /** Resolves once the write and its outbox entry are committed (or refused, e.g. 404). */
  write(command: WriteCommand): Promise<WriteOutcome>;
  /** Many writes in one transaction (imports): all commit or none. */
  writeAll(commands: WriteCommand[]): Promise<WriteOutcome[]>;
  /** Called after each commit that wrote at least one request; the webhook worker wakes on it. */
  onCommit(listener: () => void): void;
  /**
   * SQLite: called once if the write thread stops by a fault (writes then commit on the event
   * loop, slower): servers log it.
   */
  onThreadStopped(listener: (error: Error) => void): void;
  /**
   * Gets ready to write fast (SQLite: starts the write thread); servers call it before listening.
   * False if the SQLite write thread could not start: writes then commit on the event loop.
   */
  warm(): Promise<boolean>;
  close(): Promise<void>;
}

const RETURNED = ['id', 'data', 'version', 'created_at', 'updated_at', 'environment'] as const;

const RECORD_COLUMNS = [
  'id',
  'endpoint_id',
  'environment',
  'data',
  'version',
  'created_at',
  'updated_at',
] as const;
const REQUEST_COLUMNS = [
  'id',
  'key_id',
  'endpoint_id',
  'environment',
  'operation',
  'record_id',
  'record_version',
  'source',
  'payload',
  'callback',
  'status',
  'created_at',
  'processed_at',
  'record_data',
] as const;

function placeholders<C extends string>(columns: readonly C[]): Record<C, string> {
  return Object.fromEntries(columns.map((c) => [c, ''])) as Record<C, string>;
}

/** The two inserts every write makes, compiled once. */
function statements(db: Db) {
  return {
    // Only into an endpoint that still exists (ENDPOINT_EXISTS); parameters: the record's
    // RECORD_COLUMNS, then its endpoint id again.
    insertRecord: preparedQuery<never, unknown[]>({
      compile: () =>
        sql`insert into "records" (${sql.join(RECORD_COLUMNS.map((c) => sql.ref(c)))})
          select ${''}, ${''}, ${''}, ${''}, cast(${0} as integer), ${''}, ${''}
          where exists (select 1 from "endpoints" where "id" = ${''})`.compile(db),
    }),
    insertRequest: preparedQuery<never, unknown[]>(
      db.insertInto('requests').values(placeholders(REQUEST_COLUMNS) as never),
    ),
  };
}

type Statements = ReturnType<typeof statements>;

/** The row a create inserts. */
function createdRow(cmd: WriteCommand, now: string): RecordRow {
  return {
    id: cmd.recordId,
    data: cmd.data ?? '{}',
    version: 1,
    created_at: now,
    updated_at: now,
    environment: cmd.environment,
  };
}

/**
 * The outbox row of a write, in REQUEST_COLUMNS order. A create keeps only its data: the rest of
 * its record JSON is in the row already (webhooks/outbox.ts rebuilds it), and the smaller row is
 * fewer pages to write and sync on the hot path. Replaces and deletes keep the record JSON.
 */
function requestValues(cmd: WriteCommand, row: RecordRow, now: string): unknown[] {
  const created = cmd.operation === 'create';
  return [
    cmd.requestId,
    cmd.keyId,
    cmd.endpointId,
    cmd.environment,
    cmd.operation,
    row.id,
    row.version,
    cmd.source,
    created ? '' : recordJson(row, cmd.slug),
    cmd.callback,
    'queued',
    now,
    null,
    created ? row.data : null,
  ];
}

async function apply(
  trx: Transaction<Database>,
  cmd: WriteCommand,
  now: string,
  prepared: Statements,
): Promise<WriteOutcome> {
  let row: RecordRow | undefined;
  if (cmd.operation === 'create') {
    row = createdRow(cmd, now);
    const { numAffectedRows } = await prepared.insertRecord(
      trx,
      row.id,
      cmd.endpointId,
      row.environment,
      row.data,
      1,
      now,
      now,
      cmd.endpointId,
    );
    if (Number(numAffectedRows ?? 0) === 0) return endpointGone(cmd);
  } else {
    if (cmd.operation === 'replace') {
      row = await trx
        .updateTable('records')
        .set({ data: cmd.data ?? '{}', version: sql<number>`version + 1`, updated_at: now })
        .where('id', '=', cmd.recordId)
        .where('endpoint_id', '=', cmd.endpointId)
        .where('environment', '=', cmd.environment)
        .returning(RETURNED)
        .executeTakeFirst();
    } else {
      row = await trx
        .deleteFrom('records')
        .where('id', '=', cmd.recordId)
        .where('endpoint_id', '=', cmd.endpointId)
        .where('environment', '=', cmd.environment)
        .returning(RETURNED)
        .executeTakeFirst();
    }
    if (!row) return { ok: false, error: new ApiError('record_not_found') };
  }
  const outcome: WriteOutcome = { ok: true, recordId: row.id, version: row.version };
  await prepared.insertRequest(trx, ...requestValues(cmd, row, now));
  if (cmd.idempotency) await storeIdempotency(trx, cmd, cmd.idempotency, now);
  if (cmd.alsoInTransaction) await cmd.alsoInTransaction(trx, outcome);
  return outcome;
}

/** The Idempotency-Key's record, in the write's transaction (Kysely: PostgreSQL, and SQLite's fallback). */
async function storeIdempotency(
  trx: Transaction<Database>,
  cmd: WriteCommand,
  stored: IdempotencyRecord,
  now: string,
): Promise<void> {
  const row = {
    key_id: stored.keyId,
    idempotency_key: stored.key,
    fingerprint: stored.fingerprint,
    request_id: cmd.requestId,
    record_id: cmd.recordId,
    status_code: 202,
    response_body: queuedBody(cmd.recordId),
    created_at: now,
    expires_at: stored.expiresAt,
  };
  const result = await trx
    .insertInto('idempotency_keys')
    .values(row)
    .onConflict((oc) =>
      oc
        .columns(['key_id', 'idempotency_key'])
        .doUpdateSet(row)
        // Only an expired, not yet pruned key may be taken over.
        .where('idempotency_keys.expires_at', '<=', now),
    )
    .executeTakeFirst();
  if (Number(result.numInsertedOrUpdatedRows ?? 0) === 0) {
    // A duplicate that got past the lock (Redis down, or another process without Redis)
    // committed first: this write rolls back, so there is still exactly one.
    throw new ApiError('idempotency_key_in_flight', { headers: { 'Retry-After': '1' } });
  }
}

interface Pending {
  command: WriteCommand;
  resolve: (outcome: WriteOutcome) => void;
  reject: (error: unknown) => void;
}

const MAX_BATCH = 512;

/**
 * Group commit: the writes that arrive in one turn of the event loop share one transaction, each
 * still answered only after that transaction commits. SQLite has one writer, so one lane;
 * PostgreSQL takes several transactions at once, so several lanes run batches in parallel over
 * the pool (one transaction per write cost it a round trip pair and a WAL flush each). A batch
 * that fails as a whole is retried write by write, so one bad write cannot fail its neighbours
 * (a batch the SQLite write thread may have committed before it stopped is settled first:
 * sqliteBatch, `settle`).
 */
async function applyAll(
  db: Db,
  stmts: Statements,
  commands: WriteCommand[],
  postgres: boolean,
): Promise<WriteOutcome[]> {
  return db.transaction().execute(async (trx) => {
    if (postgres && commands.some((command) => command.operation === 'create')) await inSeqOrder(trx);
    const now = nowIso();
    const outcomes: WriteOutcome[] = [];
    let i = 0;
    while (i < commands.length) {
      let j = i;
      while (postgres && j < commands.length && isPlainCreate(commands[j] as WriteCommand)) j++;
      if (j - i > 1) {
        outcomes.push(...(await insertCreates(trx, commands.slice(i, j), now)));
        i = j;
      } else {
        outcomes.push(await apply(trx, commands[i] as WriteCommand, now, stmts));
        i++;
      }
    }
    return outcomes;
  });
}

/** Any constant: the advisory lock that transactions creating records take first (inSeqOrder). */
export const RECORD_SEQ_LOCK = 7_165_213_904;

/**
 * PostgreSQL: a record's `seq` is handed out at its INSERT but seen at COMMIT, so two transactions
 * committing out of order would let a client paging `order=asc` (or an export) pass a seq whose
 * record shows up later, and never see it. Every transaction that creates records takes this lock
 * before its first statement and holds it to its commit: seqs become visible in the order they
 * were given. Taken first, it cannot deadlock with the rows a transaction locks.
 * (SQLite has one writer at a time.)
 */
export async function inSeqOrder(trx: Transaction<Database>): Promise<void> {
  await sql`select pg_advisory_xact_lock(${RECORD_SEQ_LOCK})`.execute(trx);
}

/**
 * ENDPOINT_EXISTS: a create inserts its record only while its endpoint exists, checked by the
 * INSERT itself (an index probe; no extra statement). On PostgreSQL deleting an endpoint takes
 * the seq lock (inSeqOrder) and deletes its records once more: creates in flight commit first
 * and their records go with it, and creates that waited for the lock then find the endpoint gone
 * (404 endpoint_not_found, nothing written). The delete holds the endpoint's row by then, which
 * no create locks: no deadlock. Without both, a create accepted just before the
 * delete committed just after it, and its record outlived its endpoint.
 */

/** A create whose endpoint was deleted after the request found it (the delete committed first). */
function endpointGone(cmd: WriteCommand): WriteOutcome {
  return {
    ok: false,
    error: new ApiError('endpoint_not_found', { message: `Endpoint "${cmd.slug}" not found` }),
  };
}

/** A create with nothing else in its transaction (no idempotency record): it can share an INSERT. */
function isPlainCreate(command: WriteCommand): boolean {
  return command.operation === 'create' && !command.idempotency && !command.alsoInTransaction;
}

const BULK_ROWS = 200;

/**
 * Consecutive creates as multi-row INSERTs, two statements per 200 writes: on PostgreSQL every
 * statement is a round trip, so this is what group commit saves there. (SQLite runs a prepared
 * statement per row in microseconds and keeps one statement per SQL text: it does not use this.)
 */
async function insertCreates(
  trx: Transaction<Database>,
  commands: WriteCommand[],
  now: string,
): Promise<WriteOutcome[]> {
  const outcomes: WriteOutcome[] = [];
  for (let i = 0; i < commands.length; i += BULK_ROWS) {
    const all = commands.slice(i, i + BULK_ROWS);
    // Only into endpoints that still exist (see ENDPOINT_EXISTS): one whose delete committed
    // while these waited for the lock has lost its records, and must not get these. In the
    // order sent (`n`): the semi-join may reorder rows, and seq is handed out as they come.
    const inserted = await sql<{
      id: string;
    }>`insert into "records" ("id", "endpoint_id", "environment", "data", "version", "created_at", "updated_at")
      select v."id", v."endpoint_id", v."environment", v."data", 1, ${now}, ${now}
      from (values ${sql.join(all.map((cmd, n) => sql`(cast(${n} as integer), ${cmd.recordId}, ${cmd.endpointId}, ${cmd.environment}, ${cmd.data ?? '{}'})`))}) as v("n", "id", "endpoint_id", "environment", "data")
      where exists (select 1 from "endpoints" as e where e."id" = v."endpoint_id")
      order by v."n"
      returning "id"`.execute(trx);
    const kept = new Set(inserted.rows.map((row) => row.id));
    for (const cmd of all) outcomes.push(kept.has(cmd.recordId) ? created(cmd) : endpointGone(cmd));
    const chunk = kept.size === all.length ? all : all.filter((cmd) => kept.has(cmd.recordId));
    if (chunk.length === 0) continue;
    const rows = chunk.map((cmd) => createdRow(cmd, now));
    await trx
      .insertInto('requests')
      .values(
        chunk.map((cmd, n) => ({
          id: cmd.requestId,
          key_id: cmd.keyId,
          endpoint_id: cmd.endpointId,
          environment: cmd.environment,
          operation: 'create' as const,
          record_id: cmd.recordId,
          record_version: 1,
          source: cmd.source,
          payload: '',
          callback: cmd.callback,
          status: 'queued' as const,
          created_at: now,
          processed_at: null,
          record_data: (rows[n] as RecordRow).data,
        })),
      )
      .execute();
  }
  return outcomes;
}

const created = (cmd: WriteCommand): WriteOutcome => ({ ok: true, recordId: cmd.recordId, version: 1 });

/** A faster way to commit some batches (SQLite's plain creates); undefined: not this batch. */
interface DirectBatch {
  /** The outcomes, and whether the batch queued any outbox row; undefined: not a batch it runs. */
  run(commands: WriteCommand[]): Promise<{ outcomes: WriteOutcome[]; queued: boolean } | undefined>;
  warm(): Promise<boolean>;
  onThreadStopped(listener: (error: Error) => void): void;
  close(): Promise<void>;
}

/**
 * `postgres`: creates as multi-row INSERTs (insertCreates) and in seq order (inSeqOrder). Creates
 * then commit one batch at a time whatever the lanes (they take one lock), so they queue apart and
 * one lane takes them all: a batch grows while the one before it commits. Replaces and deletes
 * use the other lanes.
 */
function batchingWriter(
  db: Db,
  lanes: number,
  postgres: boolean,
  unavailable: (error: unknown) => boolean,
  outage: OutageLog | undefined,
  direct?: DirectBatch,
): RecordWriter {
  const stmts = statements(db);
  const listeners: Array<() => void> = [];
  let queue: Pending[] = [];
  /** PostgreSQL's creates, waiting for the one lane that commits them. */
  const creates: Pending[] = [];
  let creating = false;
  const running = new Set<Promise<void>>();
  let scheduled = false;

  const notify = () => {
    for (const listener of listeners) listener();
  };

  /**
   * Tells the outage log of a commit (only while it has said one): with a record written, that
   * writes go through again after a full disk too.
   */
  function committed(outcomes: readonly WriteOutcome[]): void {
    outage?.[outcomes.some((outcome) => outcome.ok) ? 'wrote' : 'answered']();
  }

  async function runOne(item: Pending): Promise<void> {
    try {
      const outcome = await db.transaction().execute(async (trx) => {
        if (postgres && item.command.operation === 'create') await inSeqOrder(trx);
        return apply(trx, item.command, nowIso(), stmts);
      });
      if (outage?.down) committed([outcome]);
      item.resolve(outcome);
      notify();
    } catch (error) {
      item.reject(error);
    }
  }

  async function runBatch(batch: Pending[]): Promise<void> {
    if (batch.length === 1 && !direct) return runOne(batch[0] as Pending);
    let outcomes: WriteOutcome[];
    let queued = true;
    try {
      const commands = batch.map((item) => item.command);
      const ran = await direct?.run(commands);
      if (ran) ({ outcomes, queued } = ran);
      else outcomes = await applyAll(db, stmts, commands, postgres);
    } catch (error) {
      // SQLite locked by another process past the busy timeout, or gone: each write on its own
      // would wait as long again, and fail the same way. (On PostgreSQL a connection cut mid-batch,
      // a failover say, is worth a retry of each write on a fresh one from the pool.)
      if (!postgres && unavailable(error)) {
        for (const item of batch) item.reject(error);
        return;
      }
      for (const item of batch) await runOne(item);
      return;
    }
    // The SQLite write thread commits outside Kysely, which tells of its own commits.
    if (outage?.down) committed(outcomes);
    for (const [i, item] of batch.entries()) item.resolve(outcomes[i] as WriteOutcome);
    // Nothing queued (creates nobody is told of): nothing for the webhook worker to wake for.
    if (queued) notify();
  }

  function launch(batch: Pending[], done?: () => void): void {
    const lane: Promise<void> = runBatch(batch).finally(() => {
      running.delete(lane);
      done?.();
      schedule();
    });
    running.add(lane);
  }

  /** Hands the queues to free lanes, a batch each. */
  function startLanes(): void {
    scheduled = false;
    if (!creating && creates.length > 0 && running.size < lanes) {
      creating = true;
      launch(creates.splice(0, MAX_BATCH), () => {
        creating = false;
      });
    }
    while (running.size < lanes && queue.length > 0) {
      const batch = queue.length > MAX_BATCH ? queue.splice(0, MAX_BATCH) : queue;
      if (batch === queue) queue = [];
      launch(batch);
    }
  }

  function schedule(): void {
    const waiting = queue.length > 0 || (!creating && creates.length > 0);
    if (scheduled || running.size >= lanes || !waiting) return;
    scheduled = true;
    // Let the requests that arrive in this turn of the event loop join the batch.
    setImmediate(startLanes);
  }

  return {
    write(command) {
      return new Promise<WriteOutcome>((resolve, reject) => {
        (postgres && command.operation === 'create' ? creates : queue).push({ command, resolve, reject });
        schedule();
      });
    },
    async writeAll(commands) {
      const outcomes = await applyAll(db, stmts, commands, postgres);
      if (outage?.down) committed(outcomes);
      notify();
      return outcomes;
    },
    onCommit: (listener) => listeners.push(listener),
    onThreadStopped: (listener) => direct?.onThreadStopped(listener),
    warm: async () => (direct ? direct.warm() : true),
    async close() {
      while (running.size > 0 || queue.length > 0 || creates.length > 0 || scheduled) {
        if (running.size > 0) await Promise.allSettled([...running]);
        else await new Promise((resolve) => setImmediate(resolve));
      }
      await direct?.close();
    },
  };
}

/** PostgreSQL: this many group-commit transactions at once (the pool holds 16 connections). */
const POSTGRES_LANES = 8;

export function createRecordWriter(
  db: Db,
  dialect: DialectAdapter,
  options: { writeThread?: WriteThreadOptions; outage?: OutageLog } = {},
): RecordWriter {
  const unavailable = (error: unknown) => dialect.isUnavailable(error);
  if (dialect.name !== 'sqlite') return batchingWriter(db, POSTGRES_LANES, true, unavailable, options.outage);
  const direct = sqliteBatch(db, dialect, options.writeThread);
  const lanes = dialect.sqlitePath ? SQLITE_THREAD_LANES : 1;
  return batchingWriter(db, lanes, false, unavailable, options.outage, direct);
}

/** SQLite with the write thread: batches in flight at once (the thread commits them together). */
const SQLITE_THREAD_LANES = 4;

/**
 * Kysely's connection, held on behalf of several callers at once: the batches in flight on the
 * write thread. While they run, nothing else in this process may write (it would wait for
 * SQLite's lock in a sleeping busy handler, stalling the event loop). A caller joins the current
 * hold while nobody else waits for the connection; once someone does, new callers wait for the
 * hold to end and then queue behind them, so a stream of creates cannot starve other queries.
 */
function sharedHold(db: Db, othersWaiting: () => number) {
  interface Hold {
    users: number;
    /** Still waiting for the connection itself (and counted among its waiters). */
    acquiring: boolean;
    entered: Promise<void>;
    release: () => void;
    ended: Promise<void>;
  }
  let current: Hold | undefined;

  function open(): Hold {
    let entered!: () => void;
    let failed!: (error: unknown) => void;
    let release!: () => void;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    const hold: Hold = {
      users: 0,
      acquiring: true,
      entered: new Promise<void>((resolve, reject) => {
        entered = resolve;
        failed = reject;
      }),
      release,
      ended: db
        .connection()
        .execute(async () => {
          hold.acquiring = false;
          entered();
          await released;
        })
        .then(
          () => {},
          (error: unknown) => failed(error),
        )
        .finally(() => {
          if (current === hold) current = undefined;
        }),
    };
    return hold;
  }

  return {
    /** Runs `task` while Kysely's connection is held (shared with other tasks joining). */
    async run<T>(task: () => Promise<T>): Promise<T> {
      while (current && (current.users === 0 || othersWaiting() > (current.acquiring ? 1 : 0))) {
        await current.ended;
      }
      current ??= open();
      const hold = current;
      hold.users++;
      try {
        await hold.entered;
        return await task();
      } finally {
        hold.users--;
        if (hold.users === 0) hold.release();
      }
    },
  };
}

/** Subscriptions that want the event whose name is the last parameter (`events` is a JSON array). */
const subscribed = (endpointId: string, environment: string) => `exists (
    select 1 from "webhook_subscriptions" as s
    where s."endpoint_id" = ${endpointId} and s."environment" = ${environment} and s."enabled" = 1
      and exists (select 1 from json_each(s."events") where value = ?))`;

const OUTBOX_COLUMNS = REQUEST_COLUMNS.map((c) => `"${c}"`).join(', ');

/**
 * SQLite: a plain create's outbox row, written only when someone is to be told of it, as the
 * outbox would find when it processed the row (webhooks/outbox.ts): an API write with a
 * callback, or with an enabled subscription of its endpoint and environment that wants
 * `record.created`. Read in the write's own transaction, and SQLite has one writer at a time:
 * a subscription committed before the create is seen, one committed after it is after it. A
 * create nobody is told of then costs one insert, not two, and wakes no webhook worker. Its
 * parameters: the row's (REQUEST_COLUMNS), then source, callback, endpoint id, environment and
 * the event ('record.created').
 */
const OUTBOX_ROW_IF_TOLD = `insert into "requests" (${OUTBOX_COLUMNS})
  select ${REQUEST_COLUMNS.map(() => '?').join(', ')}
  where ? = 'api' and (? is not null or ${subscribed('?', '?')})`;

/**
 * SQLite: the outbox row of a replace (run after it) or a delete (run before it), read from the
 * record as it stands, under OUTBOX_ROW_IF_TOLD's rule (the event: record.updated or
 * record.deleted); none when the record does not exist. Its payload is the record's JSON as
 * recordJson (record-json.ts) writes it: ids, slugs, environments and timestamps need no
 * escaping. Parameters: request id, key id, operation, source, slug, callback, now; record id,
 * endpoint id, environment; source, callback, event.
 */
const OUTBOX_ROW_FROM_RECORD_IF_TOLD = `insert into "requests" (${OUTBOX_COLUMNS})
  select ?, ?, r."endpoint_id", r."environment", ?, r."id", r."version", ?,
    '{"id":"' || r."id" || '","object":"record","endpoint":"' || ? || '","environment":"' ||
      r."environment" || '","data":' || r."data" || ',"version":' || r."version" ||
      ',"created_at":"' || r."created_at" || '","updated_at":"' || r."updated_at" || '"}',
    ?, 'queued', ?, null, null
  from "records" as r
  where r."id" = ? and r."endpoint_id" = ? and r."environment" = ?
    and ? = 'api' and (? is not null or ${subscribed('r."endpoint_id"', 'r."environment"')})`;

/** SQLite: a replace on the write thread; returns the new version, nothing if no record matched. */
const REPLACE_RECORD = `update "records" set "data" = ?, "version" = "version" + 1, "updated_at" = ?
  where "id" = ? and "endpoint_id" = ? and "environment" = ? returning "version"`;

/** SQLite: a delete on the write thread; returns the version deleted, nothing if no record matched. */
const DELETE_RECORD = `delete from "records" where "id" = ? and "endpoint_id" = ? and "environment" = ?
  returning "version"`;

/** SQLite: an expired record of the key, not yet pruned, is replaced (parameters: key id, key, now). */
const CLEAR_EXPIRED_KEY = `delete from "idempotency_keys"
  where "key_id" = ? and "idempotency_key" = ? and "expires_at" <= ?`;

/**
 * SQLite: a write's Idempotency-Key record (storeIdempotency's row), when the write found its record:
 * run after a create or a replace, before a delete. A live record of the key fails the statement
 * (the primary key), and with it the batch: the writer then retries write by write through Kysely,
 * where storeIdempotency answers that write 409. Parameters: key id, key, fingerprint, request id,
 * record id, response, now, expiry; record id, endpoint id, environment.
 */
const STORE_KEY = `insert into "idempotency_keys" ("key_id", "idempotency_key", "fingerprint", "request_id",
    "record_id", "status_code", "response_body", "created_at", "expires_at")
  select ?, ?, ?, ?, ?, 202, ?, ?, ?
  where exists (select 1 from "records" where "id" = ? and "endpoint_id" = ? and "environment" = ?)`;

/** What settling a batch reads of a record it wrote. */
type StoredRecord = Pick<RecordRow, 'data' | 'version' | 'created_at' | 'updated_at'>;

/** The statements of a batch of plain writes, by their index in the thread's list. */
const Sql = {
  InsertRecord: 0,
  CreateOutbox: 1,
  ReplaceRecord: 2,
  DeleteRecord: 3,
  WriteOutbox: 4,
  ClearExpiredKey: 5,
  StoreKey: 6,
} as const;

/** A write with no statements of its own in its transaction (an idempotency record is not one): it can share a batch. */
function isPlainWrite(command: WriteCommand): boolean {
  return !command.alsoInTransaction;
}

/**
 * SQLite: a batch of plain writes (no statements of their own in the transaction) runs as one
 * better-sqlite3 transaction outside Kysely, while Kysely's connection is held so that nothing
 * else in this process writes in between. On a database file it runs on the write thread
 * (infra/db/sqlite-write-thread.ts): the statements and the fsync of the commit leave the event
 * loop, and batches that queue up meanwhile share the thread's next transaction. Until the
 * thread is up (and in memory) it runs synchronously on Kysely's own connection, skipping
 * Kysely's promise per statement. Any error rolls the whole batch back and is thrown; the writer
 * then retries write by write through Kysely. If the thread stops with the batch in flight, the
 * batch may have committed: it is settled from what the database holds (`settle`), not retried.
 */
function sqliteBatch(
  db: Db,
  dialect: DialectAdapter,
  threadOptions?: WriteThreadOptions,
): DirectBatch | undefined {
  const connection = dialect.sqliteConnection;
  if (!connection) return undefined;
  const sqlText = [
    db
      .insertInto('records')
      .values(placeholders(RECORD_COLUMNS) as never)
      .compile().sql,
    OUTBOX_ROW_IF_TOLD,
    REPLACE_RECORD,
    DELETE_RECORD,
    OUTBOX_ROW_FROM_RECORD_IF_TOLD,
    CLEAR_EXPIRED_KEY,
    STORE_KEY,
  ];
  const counted: number[] = [Sql.CreateOutbox, Sql.WriteOutbox];
  const prepared = sqlText.map((text) => {
    const statement = connection.prepare(text);
    return statement.reader ? statement.pluck() : statement;
  });

  /** Each write's rows: [statement index, ...parameters]; a replace and a delete return a version. */
  function rows(commands: WriteCommand[], now: string): ThreadRow[] {
    const out: ThreadRow[] = [];
    for (const cmd of commands) {
      const { endpointId, environment, recordId } = cmd;
      if (cmd.operation === 'create') {
        const row = createdRow(cmd, now);
        out.push([Sql.InsertRecord, row.id, endpointId, environment, row.data, 1, now, now]);
        out.push([
          Sql.CreateOutbox,
          ...requestValues(cmd, row, now),
          cmd.source,
          cmd.callback,
          endpointId,
          environment,
          operationEvent.create,
        ]);
        if (cmd.idempotency) keyRows(out, cmd, cmd.idempotency, now);
        continue;
      }
      const outbox: ThreadRow = [
        Sql.WriteOutbox,
        cmd.requestId,
        cmd.keyId,
        cmd.operation,
        cmd.source,
        cmd.slug,
        cmd.callback,
        now,
        recordId,
        endpointId,
        environment,
        cmd.source,
        cmd.callback,
        operationEvent[cmd.operation],
      ];
      if (cmd.operation === 'replace') {
        out.push([Sql.ReplaceRecord, cmd.data ?? '{}', now, recordId, endpointId, environment], outbox);
        if (cmd.idempotency) keyRows(out, cmd, cmd.idempotency, now);
      } else {
        // Read before the row is gone: the event carries the record as it was; so does STORE_KEY.
        out.push(outbox);
        if (cmd.idempotency) keyRows(out, cmd, cmd.idempotency, now);
        out.push([Sql.DeleteRecord, recordId, endpointId, environment]);
      }
    }
    return out;
  }

  /** A write's Idempotency-Key record (STORE_KEY), after any expired one of the key is cleared. */
  function keyRows(out: ThreadRow[], cmd: WriteCommand, stored: IdempotencyRecord, now: string): void {
    const { recordId } = cmd;
    out.push(
      [Sql.ClearExpiredKey, stored.keyId, stored.key, now],
      [
        Sql.StoreKey,
        stored.keyId,
        stored.key,
        stored.fingerprint,
        cmd.requestId,
        recordId,
        queuedBody(recordId),
        now,
        stored.expiresAt,
        recordId,
        cmd.endpointId,
        cmd.environment,
      ],
    );
  }

  /** A committed batch's outcomes: a replace or delete that returned no version found no record. */
  function outcomes(commands: WriteCommand[], returned: unknown[]): WriteOutcome[] {
    let next = 0;
    return commands.map((cmd): WriteOutcome => {
      if (cmd.operation === 'create') return { ok: true, recordId: cmd.recordId, version: 1 };
      const version = returned[next++];
      if (typeof version !== 'number') return { ok: false, error: new ApiError('record_not_found') };
      return { ok: true, recordId: cmd.recordId, version };
    });
  }

  /** Runs the batch's rows here, as the thread would (sqlite-write-thread.js). */
  function execute(batch: ThreadRow[]): ThreadResult {
    const result: ThreadResult = { counted: 0, returned: [] };
    for (const [index, ...parameters] of batch) {
      const statement = prepared[index] as BetterSqlite3.Statement;
      if (statement.reader) result.returned.push(statement.get(...parameters) ?? null);
      else {
        const { changes } = statement.run(...parameters);
        if (counted.includes(index)) result.counted += changes;
      }
    }
    return result;
  }
  const runHere = connection.transaction(execute);
  /** Runs `task` on Kysely's connection, so no Kysely query interleaves. */
  const here = <T>(task: () => T): Promise<T> => db.connection().execute(async () => task());
  /** What a committed batch's answer tells: each write's outcome, and whether it queued outbox rows. */
  const told = (commands: WriteCommand[], result: ThreadResult) => ({
    outcomes: outcomes(commands, result.returned),
    queued: result.counted > 0,
  });

  const recordOf = connection.prepare<[string, string, string], StoredRecord>(
    `select "data", "version", "created_at", "updated_at" from "records"
      where "id" = ? and "endpoint_id" = ? and "environment" = ?`,
  );

  /**
   * The thread stopped with this batch in flight, sent at `now`: it committed whole (one
   * transaction on the thread) or not at all, and retrying it blindly would insert a committed
   * create again (a unique violation: a 500 for a stored write) or apply a committed replace
   * twice. So the database decides. A create whose record exists with `now` as its created_at,
   * or a replace whose record holds its data with `now` as its updated_at, shows that the batch
   * committed: every write of it is answered from the records as they stand, none applied again.
   * Otherwise each write is applied now (Kysely's connection, the thread being gone), except a
   * delete whose record is gone, answered ok: gone either way, so a delete of a record that never
   * existed is answered 202 instead of 404 in this crash case only. A replace committed in the
   * same millisecond with the same data by another batch in flight passes for this one's.
   */
  const settle = connection.transaction((commands: WriteCommand[], now: string) => {
    const records = commands.map((cmd) => recordOf.get(cmd.recordId, cmd.endpointId, cmd.environment));
    const committed = commands.some((cmd, i) => {
      const record = records[i];
      if (!record || cmd.operation === 'delete') return false;
      if (cmd.operation === 'create') return record.created_at === now;
      return record.updated_at === now && record.data === (cmd.data ?? '{}');
    });
    const pending = committed
      ? []
      : commands.filter((cmd, i) => cmd.operation !== 'delete' || records[i] !== undefined);
    const applied = outcomes(pending, execute(rows(pending, nowIso())).returned);
    return commands.map((cmd, i): WriteOutcome => {
      const { recordId } = cmd;
      const record = records[i];
      if (!committed) {
        if (pending.includes(cmd)) return applied[pending.indexOf(cmd)] as WriteOutcome;
        // A delete of a record already gone: no version to tell.
        return { ok: true, recordId, version: 0 };
      }
      if (cmd.operation === 'create') return { ok: true, recordId, version: 1 };
      if (record) return { ok: true, recordId, version: record.version };
      // A replace whose record a later delete of the batch removed, a delete: ok. A replace of a
      // record that never existed found none.
      const deletedLater = commands.some(
        (other, j) => j > i && other.operation === 'delete' && other.recordId === recordId,
      );
      if (cmd.operation === 'replace' && !deletedLater)
        return { ok: false, error: new ApiError('record_not_found') };
      return { ok: true, recordId, version: 0 };
    });
  });
  const path = dialect.sqlitePath;
  const hold = sharedHold(db, dialect.sqliteWaiters ?? (() => 0));
  let thread: SqliteWriteThread | undefined;
  const stopped: Array<(error: Error) => void> = [];
  const start = () => {
    if (!path || thread) return;
    thread = startSqliteWriteThread(path, sqlText, counted, threadOptions);
    thread.onStopped((error) => {
      for (const listener of stopped) listener(error);
    });
  };

  return {
    async warm() {
      start();
      return thread ? thread.started : true;
    },
    onThreadStopped: (listener) => stopped.push(listener),
    async run(commands) {
      if (!commands.every(isPlainWrite)) return undefined;
      start();
      const now = nowIso();
      const batch = rows(commands, now);
      const onThread = thread?.ready ? thread : undefined;
      const ran = onThread
        ? await hold
            .run(() => onThread.run(batch))
            .then(
              (result) => told(commands, result),
              (error: unknown) => {
                if ((error as { code?: unknown }).code !== THREAD_STOPPED) throw error;
                // What settle applied may have queued outbox rows: the webhook worker is woken.
                // Another process may hold the lock: waited for off the event loop, as Kysely does.
                return db
                  .connection()
                  .execute(() =>
                    retryWhileLocked(() => ({ outcomes: settle.immediate(commands, now), queued: true })),
                  );
              },
            )
        : await here(() => told(commands, runHere.immediate(batch))).catch((error: unknown) => {
            // Locked by another process: this connection's busy timeout is short (it would sleep
            // on the event loop), so the batch goes through Kysely, which waits off the loop.
            if (String((error as { code?: unknown }).code).startsWith('SQLITE_BUSY')) return undefined;
            throw error;
          });
      // Outside Kysely, so not in the dialect's count of changes to records: creates add records
      // and change none, but a reader may keep a record that a replace or a delete changed.
      if (commands.some((cmd) => cmd.operation !== 'create')) dialect.noteRecordsChanged?.();
      return ran;
    },
    close: async () => thread?.close(),
  };
}
