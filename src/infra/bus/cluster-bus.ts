import cluster from 'node:cluster';
import { type BusMessage, type InvalidationBus, Subscribers } from './bus.ts';

const KIND = 'gatehouse:bus';

interface Envelope extends BusMessage {
  kind: typeof KIND;
}

function isEnvelope(message: unknown): message is Envelope {
  return typeof message === 'object' && message !== null && (message as { kind?: unknown }).kind === KIND;
}

/**
 * Several processes of `gatehouse start --workers N` on one machine: invalidations travel over
 * the cluster's IPC channel, relayed by the primary to every other worker.
 */
export function clusterWorkerBus(): InvalidationBus {
  const subscribers = new Subscribers();
  process.on('message', (message: unknown) => {
    if (isEnvelope(message)) subscribers.deliver(message);
  });
  return {
    publish(topic, subject) {
      subscribers.deliver({ topic, subject });
      process.send?.({ kind: KIND, topic, subject } satisfies Envelope);
    },
    subscribe: (topic, handler) => subscribers.add(topic, handler),
    close: async () => {},
  };
}

/** In the primary: pass each worker's invalidation on to all the others. */
export function relayClusterBus(): void {
  cluster.on('message', (from, message: unknown) => {
    if (!isEnvelope(message)) return;
    for (const worker of Object.values(cluster.workers ?? {})) {
      if (worker && worker !== from && worker.isConnected()) worker.send(message);
    }
  });
}
