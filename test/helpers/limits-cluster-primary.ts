/**
 * A two-worker cluster for tests, as `gatehouse start --workers 2` runs one: the primary keeps
 * the rate-limit counters (no Redis), the workers serve HTTP on one shared port.
 *   node --import tsx test/helpers/limits-cluster-primary.ts   (PORT, DATABASE_URL from the env)
 */
import cluster from 'node:cluster';
import { loadConfig } from '../../src/config.ts';
import { shareLimitsAcrossWorkers } from '../../src/limits/cluster-counters.ts';
import { startServer } from '../../src/server/serve.ts';

if (cluster.isPrimary) {
  shareLimitsAcrossWorkers();
  const workers = [cluster.fork(), cluster.fork()];
  // SIGUSR2: the primary stalls (its event loop blocked) for 8 s, so workers' calls go unanswered.
  process.on('SIGUSR2', () => {
    const until = Date.now() + 8_000;
    while (Date.now() < until) {}
  });
  process.once('SIGTERM', () => {
    for (const worker of workers) worker.kill('SIGTERM');
    setTimeout(() => process.exit(0), 200).unref();
  });
} else {
  const server = await startServer(loadConfig());
  process.once('SIGTERM', () => {
    server.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
}
