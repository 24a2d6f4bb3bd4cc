import type { Db } from '../infra/db/database.ts';
import type { UsageDailyTable } from '../infra/db/schema.ts';
import { utcDay } from '../limits/windows.ts';

/** Not counted toward a quota when one is seeded from usage (limits/rate-limiter.ts). */
const UNSERVED = 503;

export interface UsageEvent {
  keyId: string;
  /** The data endpoint's slug, or '' when the request was not about one endpoint. */
  endpoint: string;
  environment: string;
  status: number;
  /** Refused by a rate limit or quota: counted as a request, but it used up nothing. */
  rateLimited: boolean;
  at: number;
}

const CHUNK = 400;
const STATUS_CLASSES = ['0xx', '1xx', '2xx', '3xx', '4xx', '5xx'];

/** The order of usage_daily's key: day, key, endpoint, environment, status class, status. */
function byUsageKey(a: UsageDailyTable, b: UsageDailyTable): number {
  const text = (x: string, y: string) => (x < y ? -1 : x > y ? 1 : 0);
  return (
    text(a.day, b.day) ||
    text(a.key_id, b.key_id) ||
    text(a.endpoint, b.endpoint) ||
    text(a.environment, b.environment) ||
    text(a.status_class, b.status_class) ||
    a.status - b.status
  );
}

/**
 * Request counts are added up in memory and written in batches (one upsert per distinct
 * day/key/endpoint/environment/status), never once per request. A failed flush keeps
 * its counts for the next one.
 */
export function createUsageMeter(db: Db) {
  // By key, then endpoint: a handful of rows each (days, statuses), found without
  // building a composite string key on every request.
  let pending = new Map<string, Map<string, UsageDailyTable[]>>();
  let flushing: Promise<void> = Promise.resolve();

  function add(row: UsageDailyTable): void {
    let byEndpoint = pending.get(row.key_id);
    if (!byEndpoint) {
      byEndpoint = new Map();
      pending.set(row.key_id, byEndpoint);
    }
    const rows = byEndpoint.get(row.endpoint);
    if (!rows) {
      byEndpoint.set(row.endpoint, [row]);
      return;
    }
    const same = rows.find(
      (r) => r.status === row.status && r.day === row.day && r.environment === row.environment,
    );
    if (!same) rows.push(row);
    else {
      same.count += row.count;
      same.rate_limited += row.rate_limited;
    }
  }

  function* pendingRows(): Generator<UsageDailyTable> {
    for (const byEndpoint of pending.values()) for (const rows of byEndpoint.values()) yield* rows;
  }

  async function write(rows: UsageDailyTable[]): Promise<void> {
    // Every process upserts its rows in one order, the table's key's: two flushes of processes
    // that counted the same rows in other orders would each lock one the other waits for, and
    // PostgreSQL ends one of them (deadlock detected).
    rows.sort(byUsageKey);
    await db.transaction().execute(async (trx) => {
      for (let i = 0; i < rows.length; i += CHUNK) {
        await trx
          .insertInto('usage_daily')
          .values(rows.slice(i, i + CHUNK))
          .onConflict((oc) =>
            oc
              .columns(['day', 'key_id', 'endpoint', 'environment', 'status_class', 'status'])
              .doUpdateSet((eb) => ({
                count: eb('usage_daily.count', '+', eb.ref('excluded.count')),
                rate_limited: eb('usage_daily.rate_limited', '+', eb.ref('excluded.rate_limited')),
              })),
          )
          .execute();
      }
    });
  }

  function flushOnce(): Promise<void> {
    if (pending.size === 0) return Promise.resolve();
    const batch = [...pendingRows()];
    pending = new Map();
    return write(batch).catch((error: unknown) => {
      for (const row of batch) add(row);
      throw error;
    });
  }

  return {
    record(event: UsageEvent): void {
      const statusClass = Math.floor(event.status / 100);
      add({
        day: utcDay(event.at),
        key_id: event.keyId,
        endpoint: event.endpoint,
        environment: event.environment,
        status_class: STATUS_CLASSES[statusClass] ?? `${statusClass}xx`,
        status: event.status,
        count: 1,
        rate_limited: event.rateLimited ? 1 : 0,
      });
    },

    /** Writes what has been counted so far; flushes never overlap. */
    flush(): Promise<void> {
      const next = flushing.then(flushOnce, flushOnce);
      flushing = next.catch(() => {});
      return next;
    },

    /**
     * Requests a key made from `fromDay` to `toDay` (inclusive) that were not refused by a limit,
     * nor answered 503 (unserved: the closed policy's refusals while Redis was away, above all).
     */
    async usedBetween(keyId: string, fromDay: string, toDay: string): Promise<number> {
      const row = await db
        .selectFrom('usage_daily')
        .select((eb) => eb.fn.sum<number | string | null>(eb('count', '-', eb.ref('rate_limited'))).as('n'))
        .where('key_id', '=', keyId)
        .where('day', '>=', fromDay)
        .where('day', '<=', toDay)
        .where('status', '!=', UNSERVED)
        .executeTakeFirst();
      let used = Number(row?.n ?? 0);
      for (const rows of pending.get(keyId)?.values() ?? []) {
        for (const p of rows) {
          if (p.day >= fromDay && p.day <= toDay && p.status !== UNSERVED) used += p.count - p.rate_limited;
        }
      }
      return used;
    },
  };
}

export type UsageMeter = ReturnType<typeof createUsageMeter>;
