/**
 * Tells every process of an installation that cached state changed (a key revoked, an endpoint
 * deployed), so each drops its copy at once. The caches' short TTL remains the fallback when a
 * message is lost.
 */
export const TOPICS = ['keys', 'endpoints', 'tokens', 'apps', 'signing-keys'] as const;
export type Topic = (typeof TOPICS)[number];

export interface InvalidationBus {
  /** Delivered to every subscriber in every process, this one included. */
  publish(topic: Topic, subject?: string): void;
  subscribe(topic: Topic, handler: (subject: string | undefined) => void): void;
  close(): Promise<void>;
}

export interface BusMessage {
  topic: Topic;
  subject?: string;
}

/** The subscriber table every implementation shares. */
export class Subscribers {
  private readonly handlers = new Map<Topic, Array<(subject: string | undefined) => void>>();

  add(topic: Topic, handler: (subject: string | undefined) => void): void {
    const list = this.handlers.get(topic) ?? [];
    list.push(handler);
    this.handlers.set(topic, list);
  }

  deliver(message: BusMessage): void {
    for (const handler of this.handlers.get(message.topic) ?? []) {
      try {
        handler(message.subject);
      } catch {
        // A failing cache handler must not stop the others; the TTL still bounds staleness.
      }
    }
  }
}

/** One process: invalidation is a function call. */
export function localBus(): InvalidationBus {
  const subscribers = new Subscribers();
  return {
    publish: (topic, subject) => subscribers.deliver({ topic, subject }),
    subscribe: (topic, handler) => subscribers.add(topic, handler),
    close: async () => {},
  };
}
