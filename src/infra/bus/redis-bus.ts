import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { type BusMessage, type InvalidationBus, Subscribers, TOPICS } from './bus.ts';

/**
 * Many processes on many machines: Redis pub/sub. Local subscribers are told at once (no round
 * trip), other processes when the message arrives. While Redis is away nothing is lost for good:
 * a message published meanwhile waits in the publisher's queue until it reconnects, and a
 * subscriber that was away (it cannot know what it missed) drops every cached state once it is
 * subscribed again. Until then the caches' TTL bounds how long a process serves stale state.
 */
export function redisBus(url: string, channel: string, logger?: Logger): InvalidationBus {
  const subscribers = new Subscribers();
  // Invalidations are rare (management changes) and harmless late: queued, never dropped.
  const publisher = new Redis(url, { maxRetriesPerRequest: null, enableOfflineQueue: true });
  // Subscribed on every connection below, not by ioredis's autoResubscribe: the caches are
  // dropped once the subscription is confirmed, so a change made after that is announced to it
  // and one made before is read from the database.
  const subscriber = new Redis(url, {
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    autoResubscribe: false,
  });
  const origin = `${process.pid}-${Math.random().toString(36).slice(2)}`;
  for (const client of [publisher, subscriber]) {
    client.on('error', (error: Error) =>
      logger?.warn({ err: error.message }, 'invalidation bus: redis error'),
    );
  }
  subscriber.on('ready', () => {
    subscriber.subscribe(channel).then(
      () => {
        for (const topic of TOPICS) subscribers.deliver({ topic });
      },
      (error: Error) => logger?.warn({ err: error.message }, 'invalidation bus: subscribe failed'),
    );
  });
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
