import { Worker } from 'node:worker_threads';
import { WRITER_PRAGMAS } from './dialect.ts';

/** One statement run on the thread: its index in the prepared list, then its parameters. */
export type ThreadRow = [statement: number, ...parameters: unknown[]];

export interface SqliteWriteThread {
  /** True once the thread has opened the database and prepared the statements. */
  readonly ready: boolean;
  /** Settles when the thread is ready (true) or could not start (false: callers write themselves). */
  readonly started: Promise<boolean>;
  /**
   * Runs the rows as one `BEGIN IMMEDIATE` transaction on the thread's connection and resolves
   * after its commit (fsync included) with the number of rows the counted statement wrote.
   * Rejects with the SQLite error, its `code` kept, after a rollback: nothing of the batch is
   * written.
   */
  run(rows: ThreadRow[]): Promise<number>;
  close(): Promise<void>;
}

type Reply =
  | { id: number; ok: true; counted: number }
  | { id: number; ok: false; message: string; code?: string };

/**
 * Starts the write thread of sqlite-write-thread.js on the database file at `path` and prepares
 * `statements` there; each batch's answer counts the rows written by `statements[counted]`.
 * Until it is ready (a few milliseconds), `ready` is false and callers write on their own
 * connection; if the thread ever fails, `ready` stays false for good.
 */
export function startSqliteWriteThread(path: string, statements: string[], counted = -1): SqliteWriteThread {
  const worker = new Worker(new URL('./sqlite-write-thread.js', import.meta.url), {
    workerData: { path, pragmas: WRITER_PRAGMAS },
    // Under `node --import tsx` (tests) the thread would load tsx for nothing: it runs plain JS.
    execArgv: [],
  });
  const waiting = new Map<number, { resolve: (counted: number) => void; reject: (error: Error) => void }>();
  let nextId = 0;
  let ready = false;
  let broken = false;
  let closing = false;
  let closed: Promise<void> | undefined;

  // Idle, the thread keeps nobody's process alive; with a batch in flight, or closing, it does.
  const track = () => (waiting.size > 0 || closing ? worker.ref() : worker.unref());
  track();

  function send(message: object): Promise<number> {
    if (broken || closing) return Promise.reject(new Error('The SQLite write thread is not running'));
    const id = nextId++;
    return new Promise<number>((resolve, reject) => {
      waiting.set(id, { resolve, reject });
      track();
      worker.postMessage({ ...message, id });
    });
  }

  function failAll(error: Error): void {
    broken = true;
    ready = false;
    for (const pending of waiting.values()) pending.reject(error);
    waiting.clear();
    track();
  }

  worker.on('message', (reply: Reply) => {
    const pending = waiting.get(reply.id);
    if (!pending) return;
    waiting.delete(reply.id);
    track();
    if (reply.ok) pending.resolve(reply.counted);
    else pending.reject(Object.assign(new Error(reply.message), { code: reply.code }));
  });
  worker.on('error', (error) => failAll(error));
  worker.on('exit', () => failAll(new Error('The SQLite write thread stopped')));

  const started = send({ type: 'prepare', statements, counted }).then(
    () => {
      if (!broken && !closing) ready = true;
      return ready;
    },
    () => false,
  );

  return {
    get ready() {
      return ready;
    },
    started,
    run: (rows) => send({ type: 'batch', rows }),
    close() {
      closing = true;
      closed ??= (async () => {
        ready = false;
        if (broken) return;
        const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
        track();
        worker.postMessage({ type: 'close' });
        await exited;
      })();
      return closed;
    },
  };
}
