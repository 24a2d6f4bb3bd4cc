import cluster from 'node:cluster';
import { AggregatorRegistry } from 'prom-client';
import { relayClusterBus } from '../infra/bus/cluster-bus.ts';
import { CLUSTER_METRICS } from '../ops/routes.ts';

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
  // A worker asked for /metrics: every worker's figures, summed (ops/routes.ts).
  const metrics = new AggregatorRegistry();
  cluster.on('message', (worker, message: { type?: string; id?: number }) => {
    if (message?.type !== CLUSTER_METRICS) return;
    metrics.clusterMetrics().then(
      (text) => worker.send({ type: CLUSTER_METRICS, id: message.id, text }),
      (error: Error) => worker.send({ type: CLUSTER_METRICS, id: message.id, error: error.message }),
    );
  });
  let stopping = false;
  // The primary's own work (migrations, the webhook worker) is ready before any worker starts.
  const primaryTask = options.startPrimary ? await options.startPrimary() : undefined;
  const fork = () => cluster.fork();
  for (let i = 0; i < options.workers; i++) fork();
  // A worker that stops before it ever listened could not start (the port is taken, say): a new
  // one would fail the same way, so the whole server stops with the error it printed.
  const listened = new Set<number>();
  cluster.on('listening', (worker) => listened.add(worker.id));
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) return;
    if (!listened.has(worker.id)) {
      void shutdown(`worker ${worker.process.pid} could not start (${signal ?? code})`, 1);
      return;
    }
    options.log(`worker ${worker.process.pid} exited (${signal ?? code}); starting a new one`);
    setTimeout(fork, 500);
  });

  const shutdown = async (reason: string, exitCode = 0) => {
    if (stopping) return;
    stopping = true;
    options.log(`${reason}: draining ${options.workers} workers, then exiting`);
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
    process.exit(exitCode);
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));
}
