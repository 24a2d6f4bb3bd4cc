import cluster, { type Worker } from 'node:cluster';
import { AggregatorRegistry, type Registry } from 'prom-client';

/**
 * `/metrics` under `start --workers N`: a scrape reaches one worker, which asks the primary; the
 * primary asks every worker that is serving for its registry and sums them (prom-client's
 * aggregation: each metric's `aggregator`). A worker that does not answer in time (starting,
 * stopping, blocked) counts with the figures it last gave rather than failing the scrape, and a
 * worker that exited leaves its counters and histograms in the sum: summed over processes, a
 * counter that went down (a crashed worker's share gone, a slow one's missing from one scrape)
 * would read to Prometheus as a reset, and `rate()` would count the others' whole totals again.
 */
const ASK = 'gatehouse:metrics';
const COLLECT = 'gatehouse:metrics-collect';
const PART = 'gatehouse:metrics-part';
const WORKER_ANSWER_MS = 1_000;

type MetricsJson = Awaited<ReturnType<Registry['getMetricsAsJSON']>>;
interface Message {
  type?: string;
  id?: number;
  text?: string;
  error?: string;
  metrics?: MetricsJson;
}

let asked = 0;

/** In a worker: answers the primary's collection requests from `registry`. */
export function answerForCluster(registry: Registry): void {
  process.on('message', (message: Message) => {
    if (message?.type !== COLLECT) return;
    registry.getMetricsAsJSON().then(
      (metrics) => process.send?.({ type: PART, id: message.id, metrics }),
      () => process.send?.({ type: PART, id: message.id, metrics: [] }),
    );
  });
}

/** In a worker: the whole cluster's metrics text, from the primary. */
export function clusterMetrics(timeoutMs: number): Promise<string> {
  const id = ++asked;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      process.off('message', onMessage);
      reject(new Error('The primary process did not answer for the cluster metrics'));
    }, timeoutMs);
    function onMessage(message: Message): void {
      if (message?.type !== ASK || message.id !== id) return;
      clearTimeout(timer);
      process.off('message', onMessage);
      if (typeof message.text === 'string') resolve(message.text);
      else reject(new Error(message.error ?? 'no metrics'));
    }
    process.on('message', onMessage);
    process.send?.({ type: ASK, id });
  });
}

/** Figures that only go up: what a worker that exited had counted stays in the installation's. */
const cumulative = (metrics: MetricsJson): MetricsJson =>
  metrics.filter((metric) => String(metric.type) === 'counter' || String(metric.type) === 'histogram');

/** Several registries' figures summed into one (the aggregated registry's metrics are plain values). */
const summed = (parts: MetricsJson[]): MetricsJson =>
  AggregatorRegistry.aggregate(parts)
    .getMetricsAsArray()
    .map((metric) => (metric as unknown as { get(): MetricsJson[number] }).get());

/** In the primary: answers workers' requests, asking the workers in `serving`. */
export function serveClusterMetrics(serving: () => Worker[]): void {
  let collections = 0;
  const pending = new Map<number, (from: Worker, metrics: MetricsJson) => void>();
  /** Each live worker's figures as it last gave them, by worker id. */
  const last = new Map<number, MetricsJson>();
  /** The counters and histograms of the workers that exited, summed. */
  let retired: MetricsJson = [];
  cluster.on('exit', (worker) => {
    const final = last.get(worker.id);
    last.delete(worker.id);
    if (final) retired = summed([retired, cumulative(final)]);
  });
  cluster.on('message', (worker, message: Message) => {
    if (message?.type === PART && typeof message.id === 'number') {
      pending.get(message.id)?.(worker, message.metrics ?? []);
      return;
    }
    if (message?.type !== ASK) return;
    const id = ++collections;
    const workers = serving().filter((w) => w.isConnected());
    const answered = new Set<Worker>();
    const finish = () => {
      clearTimeout(timer);
      pending.delete(id);
      const reply = (body: Message) => {
        if (worker.isConnected()) worker.send({ type: ASK, id: message.id, ...body }, undefined, () => {});
      };
      AggregatorRegistry.aggregate([retired, ...last.values()])
        .metrics()
        .then(
          (text) => reply({ text }),
          (error: Error) => reply({ error: error.message }),
        );
    };
    const timer = setTimeout(finish, WORKER_ANSWER_MS);
    pending.set(id, (from, metrics) => {
      if (answered.has(from)) return;
      answered.add(from);
      // None (its registry failed to read): its last figures stand, as for a worker that is late.
      if (!from.isDead() && metrics.length > 0) last.set(from.id, metrics);
      if (answered.size === workers.length) finish();
    });
    for (const w of workers) w.send({ type: COLLECT, id }, undefined, () => {});
    if (workers.length === 0) finish();
  });
}
