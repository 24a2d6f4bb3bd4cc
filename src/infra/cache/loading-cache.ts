import { TtlCache } from './ttl-cache.ts';

interface Entry<V> {
  promise: Promise<V>;
  settled: boolean;
  value: V | undefined;
}

/**
 * Loads each key once, shares a load in flight between callers, and hands out settled values
 * synchronously (`peek`), so that a cache hit on the hot path costs no promise at all.
 * Failed loads are forgotten at once.
 */
export class LoadingCache<K, V> {
  private readonly entries: TtlCache<K, Entry<V>>;

  constructor(
    ttlMs: number,
    maxEntries: number,
    private readonly load: (key: K) => Promise<V>,
  ) {
    this.entries = new TtlCache(ttlMs, maxEntries);
  }

  /** The cached value if it has settled: `{ value }`, else undefined. */
  peek(key: K, now = Date.now()): { value: V } | undefined {
    const entry = this.entries.get(key, now);
    return entry?.settled ? { value: entry.value as V } : undefined;
  }

  get(key: K, now = Date.now()): Promise<V> {
    const cached = this.entries.get(key, now);
    if (cached) return cached.promise;
    const entry: Entry<V> = { promise: this.load(key), settled: false, value: undefined };
    entry.promise.then(
      (value) => {
        entry.settled = true;
        entry.value = value;
      },
      () => {
        // Only this load's own entry: after an invalidation a newer load may be cached here.
        if (this.entries.get(key) === entry) this.entries.delete(key);
      },
    );
    this.entries.set(key, entry, now);
    return entry.promise;
  }

  delete(key: K): void {
    this.entries.delete(key);
  }

  clear(): void {
    this.entries.clear();
  }
}
