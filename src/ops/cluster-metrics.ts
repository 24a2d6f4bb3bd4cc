import cluster, { type Worker } from 'node:cluster';
import { AggregatorRegistry, type Registry } from 'prom-client';

/**
 * `/metrics` under `start --workers N`: a scrape reaches one worker, which asks the primary; the
 * primary asks every worker that is serving for its registry and sums them (prom-client's
 * aggregation: each metric's `aggregator`). A worker that does not answer in time (starting,
 * stopping, blocked) is left out of that scrape rather than failing it.
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

/** In the primary: answers workers' requests, asking the workers in `serving`. */
export function serveClusterMetrics(serving: () => Worker[]): void {
  let collections = 0;
  const pending = new Map<number, (from: Worker, metrics: MetricsJson) => void>();
  cluster.on('message', (worker, message: Message) => {
    if (message?.type === PART && typeof message.id === 'number') {
      pending.get(message.id)?.(worker, message.metrics ?? []);
      return;
    }
    if (message?.type !== ASK) return;
    const id = ++collections;
    const workers = serving().filter((w) => w.isConnected());
    const parts: MetricsJson[] = [];
    const answered = new Set<Worker>();
    const finish = () => {
      clearTimeout(timer);
      pending.delete(id);
      const reply = (body: Message) => {
        if (worker.isConnected()) worker.send({ type: ASK, id: message.id, ...body }, undefined, () => {});
      };
      AggregatorRegistry.aggregate(parts)
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
      parts.push(metrics);
      if (answered.size === workers.length) finish();
    });
    for (const w of workers) w.send({ type: COLLECT, id }, undefined, () => {});
    if (workers.length === 0) finish();
  });
}
