import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { type BusMessage, type InvalidationBus, Subscribers } from './bus.ts';

/**
 * Many processes on many machines: Redis pub/sub. Local subscribers are told at once (no round
 * trip), other processes when the message arrives. If Redis is down, publishing is skipped with
 * a warning and the caches' TTL bounds how long other processes serve stale state.
 */
export function redisBus(url: string, channel: string, logger?: Logger): InvalidationBus {
  const subscribers = new Subscribers();
  const options = { maxRetriesPerRequest: 1, enableOfflineQueue: false, lazyConnect: false } as const;
  const publisher = new Redis(url, options);
  const subscriber = new Redis(url, { ...options, enableOfflineQueue: true });
  const origin = `${process.pid}-${Math.random().toString(36).slice(2)}`;
  for (const client of [publisher, subscriber]) {
    client.on('error', (error: Error) =>
      logger?.warn({ err: error.message }, 'invalidation bus: redis error'),
    );
  }
  subscriber
    .subscribe(channel)
    .catch((error: Error) => logger?.warn({ err: error.message }, 'invalidation bus: subscribe failed'));
  subscriber.on('message', (_channel: string, text: string) => {
    try {
      const message = JSON.parse(text) as BusMessage & { origin: string };
      if (message.origin !== origin) subscribers.deliver(message);
    } catch {
      // Not ours; ignore.
    }
  });
  return {
    publish(topic, subject) {
      subscribers.deliver({ topic, subject });
      publisher
        .publish(channel, JSON.stringify({ topic, subject, origin }))
        .catch((error: Error) => logger?.warn({ err: error.message }, 'invalidation bus: publish failed'));
    },
    subscribe: (topic, handler) => subscribers.add(topic, handler),
    async close() {
      publisher.disconnect();
      subscriber.disconnect();
    },
  };
}
