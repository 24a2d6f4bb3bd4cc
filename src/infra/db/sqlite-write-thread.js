// @ts-check
/**
 * The SQLite write thread (started by sqlite-write-thread.ts). It owns a second writer
 * connection and runs the record writer's batches of plain writes on it: the statements and the
 * `synchronous=FULL` commit (an fsync, ~0.4 ms here) happen on this thread while the event loop
 * goes on serving requests. Batches that queued up while a commit ran share the next
 * transaction (one fsync); if that transaction fails, each batch is retried on its own, so one
 * bad batch cannot fail the others. Plain JavaScript: a worker thread starts without the tsx
 * loader the main thread runs under.
 *
 * Messages in:  { type: 'prepare', id, statements: string[], counted: number[] }
 *               { type: 'batch', id, rows: Array<[statement index, ...parameters]> }
 *               { type: 'close' }
 * Messages out: { id, ok: true, counted, returned } | { id, ok: false, message, code }
 *               (`counted`: the rows the batch's `counted` statements wrote, e.g. outbox rows;
 *               `returned`: the first column of the first row each statement that returns
 *               data gave (`... returning "version"`), null for none, in the batch's order)
 */
import { parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads';
import BetterSqlite3 from 'better-sqlite3';

const port = /** @type {import('node:worker_threads').MessagePort} */ (parentPort);
const db = new BetterSqlite3(workerData.path);
// The same settings as every writer connection (WRITER_PRAGMAS in dialect.ts).
for (const pragma of /** @type {string[]} */ (workerData.pragmas)) db.pragma(pragma);

/**
 * Tests only (`stopAfterCommits` of sqlite-write-thread.ts): the thread stops, as a crash would,
 * right after its Nth commit and before any reply. Unset (Infinity) in production.
 */
let commitsBeforeStop = /** @type {number} */ (workerData.stopAfterCommits ?? Number.POSITIVE_INFINITY);

/** @type {import('better-sqlite3').Statement[]} */
let statements = [];
/** The statements whose written rows each batch's reply counts. */
let countedIndexes = new Set();

/** @typedef {{ type: 'batch', id: number, rows: Array<[number, ...unknown[]]> }} Batch */

/** @typedef {{ counted: number, returned: unknown[] }} Result */

/** Runs the batches in one transaction; returns, batch by batch, what the reply tells of it. */
const commit = db.transaction((/** @type {Batch[]} */ batches) =>
  batches.map((batch) => {
    /** @type {Result} */
    const result = { counted: 0, returned: [] };
    for (const [index, ...parameters] of batch.rows) {
      const statement = statements[index];
      if (!statement) throw new Error(`No statement ${index} was prepared`);
      if (statement.reader) result.returned.push(statement.get(...parameters) ?? null);
      else {
        const info = statement.run(...parameters);
        if (countedIndexes.has(index)) result.counted += info.changes;
      }
    }
    return result;
  }),
);

/** @param {Batch} batch @param {Result | undefined} result */
function succeeded(batch, result) {
  port.postMessage({
    id: batch.id,
    ok: true,
    counted: result?.counted ?? 0,
    returned: result?.returned ?? [],
  });
}

/** @param {number} id @param {unknown} error */
function failed(id, error) {
  const { message, code } = /** @type {{ message?: string, code?: string }} */ (error ?? {});
  port.postMessage({ id, ok: false, message: String(message), code });
}

/** @param {Batch[]} batches */
function run(batches) {
  if (--commitsBeforeStop === 0) {
    // Only the first batch commits: the others (drained with it or still queued) never do.
    commit.immediate(batches.slice(0, 1));
    process.exit(1);
  }
  // Only the commit is tried: a reply that failed after it must not run the batches again.
  /** @type {Result[] | undefined} */
  let results;
  try {
    results = commit.immediate(batches);
  } catch (error) {
    if (batches.length === 1) return failed(batches[0]?.id ?? -1, error);
  }
  if (results) {
    for (const [i, batch] of batches.entries()) succeeded(batch, results[i]);
    return;
  }
  for (const batch of batches) {
    /** @type {Result | undefined} */
    let result;
    try {
      [result] = commit.immediate([batch]);
    } catch (error) {
      failed(batch.id, error);
      continue;
    }
    succeeded(batch, result);
  }
}

/** @param {any} message */
function handle(message) {
  if (message.type === 'close') {
    db.close();
    port.close();
    return;
  }
  if (message.type === 'prepare') {
    try {
      statements = message.statements.map((/** @type {string} */ text) => {
        const statement = db.prepare(text);
        // A statement that returns data gives its first column (`returning "version"`).
        return statement.reader ? statement.pluck() : statement;
      });
      countedIndexes = new Set(message.counted ?? []);
      port.postMessage({ id: message.id, ok: true, counted: 0, returned: [] });
    } catch (error) {
      failed(message.id, error);
    }
    return;
  }
  // Every batch already waiting joins this transaction.
  const batches = [message];
  let other;
  for (let next = receiveMessageOnPort(port); next; next = receiveMessageOnPort(port)) {
    if (next.message.type !== 'batch') {
      other = next.message;
      break;
    }
    batches.push(next.message);
  }
  run(batches);
  if (other) handle(other);
}

port.on('message', handle);
