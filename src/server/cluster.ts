import cluster, { type Worker } from 'node:cluster';
import { relayClusterBus } from '../infra/bus/cluster-bus.ts';
import { serveClusterMetrics } from '../ops/cluster-metrics.ts';
import { onStopSignals } from './signals.ts';

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
  /** Called once, when the first workers all listen, with the port they share. */
  ready?: (port: number) => void;
  /** Called when a first worker ended before it listened: the cluster stops (exit 1). */
  couldNotStart?: (reason: string) => void;
}

/**
 * `gatehouse start --workers N`: N HTTP processes behind one port (node:cluster), invalidations
 * relayed between them, crashed workers replaced, SIGTERM passed on for a graceful drain.
 */
export async function runCluster(options: ClusterOptions): Promise<void> {
  if (!cluster.isPrimary) {
    // Listening for the stop before starting: a stop asked while the server starts waits for it.
    let server: Stoppable | undefined;
    let stopAsked = false;
    let stopped = false;
    let hurried = false;
    const stop = () => {
      stopAsked = true;
      if (!server) return;
      if (!stopped) {
        stopped = true;
        server.stop().then(
          () => process.exit(0),
          () => process.exit(1),
        );
      }
      // Asked to hurry: the shutdown delay ends now (a second stop(), serve.ts).
      if (hurried) void server.stop();
    };
    // SIGTERM from the primary, which passes its own on (a worker still loading, with no handler
    // yet, just ends). Repeats change nothing: a process group's SIGTERM (systemd's default)
    // reaches a worker directly and again through the primary.
    process.on('SIGTERM', stop);
    process.on('message', (message: unknown) => {
      if (message !== 'gatehouse:hurry') return;
      hurried = true;
      stop();
    });
    process.on('SIGINT', () => {}); // the primary decides; a terminal's Ctrl-C reaches every process
    server = await options.startWorker();
    if (stopAsked) stop();
    return;
  }

  relayClusterBus();
  let stopping = false;
  let primaryTask: Stoppable | undefined;
  const live = () => Object.values(cluster.workers ?? {}).filter((w): w is Worker => !!w && !w.isDead());
  const shutdown = async (reason: string, exitCode = 0) => {
    if (stopping) return;
    stopping = true;
    options.log(`${reason}: draining ${options.workers} workers, then exiting`);
    const exits = live().map(
      (worker) =>
        new Promise<void>((resolve) => {
          worker.once('exit', () => resolve());
          // A worker exiting meanwhile (its channel closing) is not an error: its exit resolves this.
          worker.on('error', () => {});
          // A signal, not a message: one sent while the worker still loads would be lost.
          worker.process.kill('SIGTERM');
        }),
    );
    await Promise.all(exits);
    await primaryTask?.stop();
    process.exit(exitCode);
  };
  // Listening before anything starts: a stop asked while the primary starts waits for it, and
  // one asked while the workers load reaches them (the default action would orphan them).
  let stopAsked: string | undefined;
  let started = false;
  let hurried = false;
  const onSignal = (signal: 'SIGTERM' | 'SIGINT') => {
    if (!started) {
      stopAsked ??= signal;
      return;
    }
    // SIGTERM stops; repeats change nothing (systemd, a supervisor). In a terminal, Ctrl-C stops,
    // a second ends the shutdown delay, a third quits at once without draining.
    if (signal === 'SIGTERM' || !stopping) {
      void shutdown(signal);
    } else if (!hurried) {
      hurried = true;
      options.log('SIGINT again: ending the shutdown delay (once more to quit at once)');
      for (const worker of live()) if (worker.isConnected()) worker.send('gatehouse:hurry');
    } else {
      options.log('SIGINT a third time: quitting without draining');
      for (const worker of live()) worker.process.kill('SIGKILL');
      process.exit(130);
    }
  };
  onStopSignals(onSignal);
  // The primary's own work (migrations, the webhook worker) is ready before any worker starts.
  primaryTask = options.startPrimary ? await options.startPrimary() : undefined;
  started = true;
  if (stopAsked) {
    await shutdown(stopAsked);
    return;
  }
  const listened = new Set<number>();
  // /metrics: every serving worker's figures, summed (ops/cluster-metrics.ts).
  serveClusterMetrics(
    () =>
      Object.values(cluster.workers ?? {}).filter((w) => w !== undefined && listened.has(w.id)) as Worker[],
  );
  const fork = () => cluster.fork();
  for (let i = 0; i < options.workers; i++) fork();
  // Until the first workers all listen, one that stops first could not start (the port is taken,
  // say): a new one would fail the same way, so the server stops with the error it printed.
  // Later a worker is replaced; one that dies before listening (the database briefly away) is
  // replaced after a pause that doubles, up to 10 s, until one listens again.
  let starting = true;
  let pause = 500;
  cluster.on('listening', (worker, address) => {
    listened.add(worker.id);
    pause = 500;
    if (starting && listened.size >= options.workers) {
      starting = false;
      if (!stopping) options.ready?.(address.port);
    }
  });
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) return;
    const served = listened.delete(worker.id);
    if (starting && !served) {
      const reason = `worker ${worker.process.pid} could not start (${signal ?? code})`;
      options.couldNotStart?.(reason);
      void shutdown(reason, 1);
      return;
    }
    const wait = served ? 500 : pause;
    if (!served) pause = Math.min(pause * 2, 10_000);
    options.log(`worker ${worker.process.pid} exited (${signal ?? code}); starting a new one in ${wait} ms`);
    setTimeout(() => {
      if (!stopping) fork();
    }, wait);
  });
}
