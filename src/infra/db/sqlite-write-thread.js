// @ts-check
/**
 * The SQLite write thread (started by sqlite-write-thread.ts). It owns a second writer
 * connection and runs the record writer's batches of plain creates on it: the inserts and the
 * `synchronous=FULL` commit (an fsync, ~0.4 ms here) happen on this thread while the event loop
 * goes on serving requests. Batches that queued up while a commit ran share the next
 * transaction (one fsync); if that transaction fails, each batch is retried on its own, so one
 * bad batch cannot fail the others. Plain JavaScript: a worker thread starts without the tsx
 * loader the main thread runs under.
 *
 * Messages in:  { type: 'prepare', id, statements: string[], counted: number }
 *               { type: 'batch', id, rows: Array<[statement index, ...parameters]> }
 *               { type: 'close' }
 * Messages out: { id, ok: true, counted } | { id, ok: false, message, code }
 *               (`counted`: the rows the batch's `counted` statement wrote, e.g. outbox rows)
 */
import { parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads';
import BetterSqlite3 from 'better-sqlite3';

const port = /** @type {import('node:worker_threads').MessagePort} */ (parentPort);
const db = new BetterSqlite3(workerData.path);
// The same settings as every writer connection (WRITER_PRAGMAS in dialect.ts).
for (const pragma of /** @type {string[]} */ (workerData.pragmas)) db.pragma(pragma);

/** @type {import('better-sqlite3').Statement[]} */
let statements = [];
/** The statement whose written rows each batch's reply counts. */
let countedIndex = -1;

/** @typedef {{ type: 'batch', id: number, rows: Array<[number, ...unknown[]]> }} Batch */

/** Runs the batches in one transaction; returns, batch by batch, the rows the counted statement wrote. */
const commit = db.transaction((/** @type {Batch[]} */ batches) =>
  batches.map((batch) => {
    let counted = 0;
    for (const [index, ...parameters] of batch.rows) {
      const info = statements[index]?.run(...parameters);
      if (index === countedIndex && info) counted += info.changes;
    }
    return counted;
  }),
);

/** @param {Batch} batch @param {number | undefined} counted */
function succeeded(batch, counted) {
  port.postMessage({ id: batch.id, ok: true, counted: counted ?? 0 });
}

/** @param {number} id @param {unknown} error */
function failed(id, error) {
  const { message, code } = /** @type {{ message?: string, code?: string }} */ (error ?? {});
  port.postMessage({ id, ok: false, message: String(message), code });
}

/** @param {Batch[]} batches */
function run(batches) {
  try {
    const counted = commit.immediate(batches);
    for (const [i, batch] of batches.entries()) succeeded(batch, counted[i]);
    return;
  } catch (error) {
    if (batches.length === 1) return failed(batches[0]?.id ?? -1, error);
  }
  for (const batch of batches) {
    try {
      succeeded(batch, commit.immediate([batch])[0]);
    } catch (error) {
      failed(batch.id, error);
    }
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
      statements = message.statements.map((/** @type {string} */ text) => db.prepare(text));
      countedIndex = message.counted ?? -1;
      port.postMessage({ id: message.id, ok: true, counted: 0 });
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
