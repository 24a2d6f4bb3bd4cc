import { sql, type Transaction } from 'kysely';
import { ApiError } from '../errors.ts';
import type { Db } from '../infra/db/database.ts';
import type { DialectName } from '../infra/db/dialect.ts';
import { preparedQuery } from '../infra/db/prepared.ts';
import type { Database } from '../infra/db/schema.ts';
import type { Environment } from '../keys/key-service.ts';
import { nowIso } from '../time.ts';
import { type RecordRow, recordJson } from './record-json.ts';

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
  /** More statements that must commit or roll back with this write (e.g. the idempotency record). */
  alsoInTransaction?: (trx: Transaction<Database>, outcome: WriteOutcome) => Promise<void>;
}

export type WriteOutcome = { ok: true; recordId: string; version: number } | { ok: false; error: ApiError };

export interface RecordWriter {
  /** Resolves once the write and its outbox entry are committed (or refused, e.g. 404). */
  write(command: WriteCommand): Promise<WriteOutcome>;
  /** Many writes in one transaction (imports): all commit or none. */
  writeAll(commands: WriteCommand[]): Promise<WriteOutcome[]>;
  /** Called after each commit that wrote at least one request; the webhook worker wakes on it. */
  onCommit(listener: () => void): void;
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
] as const;

function placeholders<C extends string>(columns: readonly C[]): Record<C, string> {
  return Object.fromEntries(columns.map((c) => [c, ''])) as Record<C, string>;
}

/** The two inserts every write makes, compiled once. */
function statements(db: Db) {
  return {
    insertRecord: preparedQuery<never, unknown[]>(
      db.insertInto('records').values(placeholders(RECORD_COLUMNS) as never),
    ),
    insertRequest: preparedQuery<never, unknown[]>(
      db.insertInto('requests').values(placeholders(REQUEST_COLUMNS) as never),
    ),
  };
}

type Statements = ReturnType<typeof statements>;

async function apply(
  trx: Transaction<Database>,
  cmd: WriteCommand,
  now: string,
  prepared: Statements,
): Promise<WriteOutcome> {
  let row: RecordRow | undefined;
  if (cmd.operation === 'create') {
    row = {
      id: cmd.recordId,
      data: cmd.data ?? '{}',
      version: 1,
      created_at: now,
      updated_at: now,
      environment: cmd.environment,
    };
    await prepared.insertRecord(trx, row.id, cmd.endpointId, row.environment, row.data, 1, now, now);
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
  await prepared.insertRequest(
    trx,
    cmd.requestId,
    cmd.keyId,
    cmd.endpointId,
    cmd.environment,
    cmd.operation,
    row.id,
    row.version,
    cmd.source,
    recordJson(row, cmd.slug),
    cmd.callback,
    'queued',
    now,
    null,
  );
  if (cmd.alsoInTransaction) await cmd.alsoInTransaction(trx, outcome);
  return outcome;
}

interface Pending {
  command: WriteCommand;
  resolve: (outcome: WriteOutcome) => void;
  reject: (error: unknown) => void;
}

const MAX_BATCH = 512;

/**
 * SQLite has one writer: concurrent writes are grouped into one transaction (group commit),
 * each still answered only after that transaction commits. A batch that fails as a whole is
 * retried write by write, so one bad write cannot fail its neighbours.
 */
async function applyAll(db: Db, stmts: Statements, commands: WriteCommand[]): Promise<WriteOutcome[]> {
  return db.transaction().execute(async (trx) => {
    const now = nowIso();
    const outcomes: WriteOutcome[] = [];
    for (const command of commands) outcomes.push(await apply(trx, command, now, stmts));
    return outcomes;
  });
}

function batchingWriter(db: Db): RecordWriter {
  const stmts = statements(db);
  const listeners: Array<() => void> = [];
  let queue: Pending[] = [];
  let running: Promise<void> | null = null;

  const notify = () => {
    for (const listener of listeners) listener();
  };

  async function runOne(item: Pending): Promise<void> {
    try {
      item.resolve(await db.transaction().execute((trx) => apply(trx, item.command, nowIso(), stmts)));
      notify();
    } catch (error) {
      item.reject(error);
    }
  }

  async function drain(): Promise<void> {
    while (queue.length > 0) {
      const batch = queue.length > MAX_BATCH ? queue.splice(0, MAX_BATCH) : queue;
      if (batch === queue) queue = [];
      if (batch.length === 1) {
        await runOne(batch[0] as Pending);
        continue;
      }
      let outcomes: WriteOutcome[];
      try {
        outcomes = await db.transaction().execute(async (trx) => {
          const now = nowIso();
          const results: WriteOutcome[] = [];
          for (const item of batch) results.push(await apply(trx, item.command, now, stmts));
          return results;
        });
      } catch {
        for (const item of batch) await runOne(item);
        continue;
      }
      for (const [i, item] of batch.entries()) item.resolve(outcomes[i] as WriteOutcome);
      notify();
    }
  }

  function schedule(): void {
    if (running) return;
    // Let the requests that arrive in this turn of the event loop join the batch.
    running = new Promise<void>((done) => setImmediate(done)).then(drain).finally(() => {
      running = null;
      if (queue.length > 0) schedule();
    });
  }

  return {
    write(command) {
      return new Promise<WriteOutcome>((resolve, reject) => {
        queue.push({ command, resolve, reject });
        schedule();
      });
    },
    async writeAll(commands) {
      const outcomes = await applyAll(db, stmts, commands);
      notify();
      return outcomes;
    },
    onCommit: (listener) => listeners.push(listener),
    async close() {
      while (running) await running;
    },
  };
}

/** PostgreSQL takes concurrent writers: one transaction per write, run in parallel over the pool. */
function directWriter(db: Db): RecordWriter {
  const stmts = statements(db);
  const listeners: Array<() => void> = [];
  const inFlight = new Set<Promise<unknown>>();
  return {
    async write(command) {
      const pending = db.transaction().execute((trx) => apply(trx, command, nowIso(), stmts));
      inFlight.add(pending);
      try {
        const outcome = await pending;
        if (outcome.ok) for (const listener of listeners) listener();
        return outcome;
      } finally {
        inFlight.delete(pending);
      }
    },
    async writeAll(commands) {
      const outcomes = await applyAll(db, stmts, commands);
      for (const listener of listeners) listener();
      return outcomes;
    },
    onCommit: (listener) => listeners.push(listener),
    async close() {
      await Promise.allSettled([...inFlight]);
    },
  };
}

export function createRecordWriter(db: Db, dialect: DialectName): RecordWriter {
  return dialect === 'sqlite' ? batchingWriter(db) : directWriter(db);
}
