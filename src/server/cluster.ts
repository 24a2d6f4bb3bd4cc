import cluster from 'node:cluster';
import { relayClusterBus } from '../infra/bus/cluster-bus.ts';

export interface Stoppable {
  stop(): Promise<void>;
}

export interface ClusterOptions {
  /** HTTP processes to fork; they share the listening port. */
  workers: number;
  /** Runs in each forked process: the HTTP server. */
  startWorker: () => Promise<Stoppable>;
  /** Runs once in the primary after forking (e.g. the webhook worker); optional. */
  startPrimary?: () => Promise<Stoppable>;
  log: (message: string) => void;
}

/**
 * `gatehouse start --workers N`: N HTTP processes behind one port (node:cluster), invalidations
 * relayed between them, crashed workers replaced, SIGTERM passed on for a graceful drain.
 */
export async function runCluster(options: ClusterOptions): Promise<void> {
  if (!cluster.isPrimary) {
    const server = await options.startWorker();
    const stop = () => {
      server.stop().then(
        () => process.exit(0),
        () => process.exit(1),
      );
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', () => {}); // the primary decides; a terminal's Ctrl-C reaches every process
    process.on('message', (message: unknown) => {
      if (message === 'gatehouse:shutdown') stop();
    });
    return;
  }

  relayClusterBus();
  let stopping = false;
  // The primary's own work (migrations, the webhook worker) is ready before any worker starts.
  const primaryTask = options.startPrimary ? await options.startPrimary() : undefined;
  const fork = () => cluster.fork();
  for (let i = 0; i < options.workers; i++) fork();
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) return;
    options.log(`worker ${worker.process.pid} exited (${signal ?? code}); starting a new one`);
    setTimeout(fork, 500);
  });

  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    options.log(`${signal}: draining ${options.workers} workers, then exiting`);
    const exits = Object.values(cluster.workers ?? {}).map(
      (worker) =>
        new Promise<void>((resolve) => {
          if (!worker) return resolve();
          worker.once('exit', () => resolve());
          worker.send('gatehouse:shutdown');
        }),
    );
    await Promise.all(exits);
    await primaryTask?.stop();
    process.exit(0);
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));
}
