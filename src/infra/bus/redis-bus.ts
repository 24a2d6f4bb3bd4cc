import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { type BusMessage, type InvalidationBus, Subscribers, TOPICS } from './bus.ts';

export interface RedisBusOptions {
  /** Where an outage of Redis is said: once when it starts, once when it ends. */
  logger: Logger;
  /** The caches' TTL: how long another process may serve what a dropped message would have cleared. */
  cacheTtlMs: number;
  /** Messages kept for other processes while Redis is away; past that the oldest are dropped. */
  maxQueued?: number;
}

/** Invalidations held while Redis is away: a few hundred bytes each, so at most a few hundred kB. */
const MAX_QUEUED = 1_000;
/** Publishes awaiting Redis's answer at once; the rest wait in `queued` (bounded only while Redis is away). */
const MAX_IN_FLIGHT = 64;

/**
 * Many processes on many machines: Redis pub/sub. Local subscribers are told at once (no round
 * trip), other processes when the message arrives. While Redis is away a message published
 * meanwhile waits in the publisher's queue until it reconnects, the same message (topic and
 * subject) once, and at most `maxQueued` of them: past that the oldest is dropped, and the caches'
 * TTL bounds how long another process serves what it would have cleared. A subscriber that was
 * away (it cannot know what it missed) drops every cached state once it is subscribed again.
 * The outage is said in one warning, a full queue in one more, and the return in one info line.
 */
export function redisBus(url: string, channel: string, options: RedisBusOptions): InvalidationBus {
  const { logger } = options;
  const maxQueued = options.maxQueued ?? MAX_QUEUED;
  const ttlSeconds = options.cacheTtlMs / 1000;
  const subscribers = new Subscribers();
  // No offline queue in ioredis (it grows without bound): messages wait in `queued` instead.
  const publisher = new Redis(url, { maxRetriesPerRequest: null, enableOfflineQueue: false });
  // Subscribed on every connection below, not by ioredis's autoResubscribe: the caches are
  // dropped once the subscription is confirmed, so a change made after that is announced to it
  // and one made before is read from the database.
  const subscriber = new Redis(url, {
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    autoResubscribe: false,
  });
  const origin = `${process.pid}-${Math.random().toString(36).slice(2)}`;
  /** Messages not yet published, oldest first, by topic and subject (a repeat moves to the end). */
  const queued = new Map<string, string>();
  /** Publishes handed to ioredis and not yet answered. */
  let inFlight = 0;
  /** The outage said, until both connections are ready again; `sent`: queued messages handed to Redis since. */
  let outage: { dropped: number; sent: number } | undefined;

  /** Closed: a publish that `close` cut short is no outage. */
  let closed = false;

  function down(error: Error): void {
    if (outage || closed) return;
    outage = { dropped: 0, sent: 0 };
    logger.warn(
      { err: error.message },
      `Redis unavailable to the invalidation bus: changes are announced to other processes once it is back (up to ${maxQueued} queued), and until then any process may serve cached keys, endpoints, apps and tokens for up to the cache TTL (${ttlSeconds} s)`,
    );
  }

  function queue(key: string, text: string): void {
    queued.delete(key);
    queued.set(key, text);
    // Redis up, only more at once than MAX_IN_FLIGHT (a removed collaborator's keys revoked
    // together): every one is kept (one per topic and subject), so none is dropped in normal operation.
    if (queued.size <= maxQueued || (publisher.status === 'ready' && !outage)) return;
    const [oldest] = queued.keys();
    queued.delete(oldest as string);
    if (!outage) outage = { dropped: 0, sent: 0 };
    if (outage.dropped++ === 0) {
      logger.warn(
        { max_queued: maxQueued },
        `Invalidation bus queue full while Redis is unavailable: the oldest messages are dropped, and other processes see those changes once the cache TTL (${ttlSeconds} s) ends`,
      );
    }
  }

  function send(key: string, text: string): void {
    // Redis that hangs (paused, a network gone silent) keeps the connection "ready": what is
    // handed to ioredis then waits in its command queue, so only so many are.
    if (publisher.status !== 'ready' || inFlight >= MAX_IN_FLIGHT) {
      queue(key, text);
      return;
    }
    inFlight++;
    publisher.publish(channel, text).then(
      () => {
        inFlight--;
        sendQueued();
      },
      (error: Error) => {
        inFlight--;
        down(error);
        // A newer message of the same topic and subject supersedes this one.
        if (!queued.has(key)) queue(key, text);
      },
    );
  }

  /** Hands the queued messages to Redis, oldest first, as far as it takes them. */
  function sendQueued(): void {
    while (queued.size > 0 && publisher.status === 'ready' && inFlight < MAX_IN_FLIGHT) {
      const [entry] = queued;
      if (!entry) return;
      queued.delete(entry[0]);
      if (outage) outage.sent++;
      send(entry[0], entry[1]);
    }
  }

  function backIfReady(): void {
    if (!outage || publisher.status !== 'ready' || subscriber.status !== 'ready') return;
    const { sent, dropped } = outage;
    outage = undefined;
    logger.info(
      { sent, dropped },
      `Redis reachable again for the invalidation bus: ${sent} queued invalidations sent, ${dropped} dropped`,
    );
  }

  for (const client of [publisher, subscriber]) client.on('error', down);
  publisher.on('ready', () => {
    sendQueued();
    backIfReady();
  });
  subscriber.on('ready', () => {
    subscriber.subscribe(channel).then(() => {
      for (const topic of TOPICS) subscribers.deliver({ topic });
      backIfReady();
    }, down);
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
      send(`${topic}\u0000${subject ?? ''}`, JSON.stringify({ topic, subject, origin }));
    },
    subscribe: (topic, handler) => subscribers.add(topic, handler),
    async close() {
      closed = true;
      publisher.disconnect();
      subscriber.disconnect();
    },
  };
}
