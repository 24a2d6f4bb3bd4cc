import { Worker } from 'node:worker_threads';
import { WRITER_PRAGMAS } from './dialect.ts';

/** One statement run on the thread: its index in the prepared list, then its parameters. */
export type ThreadRow = [statement: number, ...parameters: unknown[]];

/** What a committed batch tells of itself. */
export interface ThreadResult {
  /** The rows the counted statements wrote (e.g. outbox rows). */
  counted: number;
  /**
   * For each row whose statement returns data (`... returning "version"`), in order: the first
   * column of its first row, or null when it returned none (an UPDATE that matched nothing).
   */
  returned: unknown[];
}

export interface SqliteWriteThread {
  /** True once the thread has opened the database and prepared the statements. */
  readonly ready: boolean;
  /** Settles when the thread is ready (true) or could not start (false: callers write themselves). */
  readonly started: Promise<boolean>;
  /**
   * Runs the rows as one `BEGIN IMMEDIATE` transaction on the thread's connection and resolves
   * after its commit (fsync included) with what the batch wrote and returned. Rejects with the
   * SQLite error, its `code` kept, after a rollback: nothing of the batch is written. If the
   * thread itself stops, the batches in flight reject with the code THREAD_STOPPED: those may
   * have committed or not (the record writer settles them from the database: record-writer.ts).
   */
  run(rows: ThreadRow[]): Promise<ThreadResult>;
  /** Called once if the thread stops other than by `close` (a crash): writes then run elsewhere. */
  onStopped(listener: (error: Error) => void): void;
  close(): Promise<void>;
}

/** The code of a batch's error when the thread stopped with it in flight (committed or not). */
export const THREAD_STOPPED = 'GATEHOUSE_WRITE_THREAD_STOPPED';

type Reply =
  | ({ id: number; ok: true } & ThreadResult)
  | { id: number; ok: false; message: string; code?: string };

export interface WriteThreadOptions {
  /**
   * Tests only: the thread commits the first batch of its Nth transaction, then stops without
   * replying, as a crash between a commit and its answer would (the batches in flight reject with
   * THREAD_STOPPED, one of them committed). A worker option rather than an environment variable:
   * nothing in production reads it, and only a test that builds its own writer can set it.
   */
  stopAfterCommits?: number;
}

/**
 * Starts the write thread of sqlite-write-thread.js on the database file at `path` and prepares
 * `statements` there; each batch's answer counts the rows written by the statements whose
 * indexes are in `counted`.
 * Until it is ready (a few milliseconds), `ready` is false and callers write on their own
 * connection; if the thread ever fails, `ready` stays false for good.
 */
export function startSqliteWriteThread(
  path: string,
  statements: string[],
  counted: number[] = [],
  options: WriteThreadOptions = {},
): SqliteWriteThread {
  const worker = new Worker(new URL('./sqlite-write-thread.js', import.meta.url), {
    workerData: { path, pragmas: WRITER_PRAGMAS, stopAfterCommits: options.stopAfterCommits },
    // Under `node --import tsx` (tests) the thread would load tsx for nothing: it runs plain JS.
    execArgv: [],
  });
  const waiting = new Map<
    number,
    { resolve: (result: ThreadResult) => void; reject: (error: Error) => void }
  >();
  let nextId = 0;
  let ready = false;
  let broken = false;
  let closing = false;
  let closed: Promise<void> | undefined;

  // Idle, the thread keeps nobody's process alive; with a batch in flight, or closing, it does.
  const track = () => (waiting.size > 0 || closing ? worker.ref() : worker.unref());
  track();

  function send(message: object): Promise<ThreadResult> {
    if (broken || closing) return Promise.reject(new Error('The SQLite write thread is not running'));
    const id = nextId++;
    return new Promise<ThreadResult>((resolve, reject) => {
      waiting.set(id, { resolve, reject });
      track();
      worker.postMessage({ ...message, id });
    });
  }

  const stoppedListeners: Array<(error: Error) => void> = [];
  function failAll(error: Error): void {
    if (!broken && !closing) for (const listener of stoppedListeners) listener(error);
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
    if (reply.ok) pending.resolve({ counted: reply.counted, returned: reply.returned });
    else pending.reject(Object.assign(new Error(reply.message), { code: reply.code }));
  });
  worker.on('error', (error) => failAll(Object.assign(error, { code: THREAD_STOPPED })));
  worker.on('exit', () =>
    failAll(Object.assign(new Error('The SQLite write thread stopped'), { code: THREAD_STOPPED })),
  );

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
    onStopped: (listener) => stoppedListeners.push(listener),
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
