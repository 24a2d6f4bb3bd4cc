import type { Db } from '../infra/db/database.ts';
import type { UsageDailyTable } from '../infra/db/schema.ts';
import { utcDay } from '../limits/windows.ts';

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

/**
 * Request counts are added up in memory and written in batches (one upsert per distinct
 * day/key/endpoint/environment/status class), never once per request. A failed flush keeps
 * its counts for the next one.
 */
export function createUsageMeter(db: Db) {
  // By key, then endpoint: a handful of rows each (days, status classes), found without
  // building a composite string key on every request.
  let pending = new Map<string, Map<string, UsageDailyTable[]>>();
  let flushing: Promise<void> = Promise.resolve();

  function add(
    day: string,
    keyId: string,
    endpoint: string,
    environment: string,
    statusClass: string,
    count: number,
    rateLimited: number,
  ): void {
    let byEndpoint = pending.get(keyId);
    if (!byEndpoint) {
      byEndpoint = new Map();
      pending.set(keyId, byEndpoint);
    }
    let rows = byEndpoint.get(endpoint);
    if (!rows) {
      rows = [];
      byEndpoint.set(endpoint, rows);
    }
    for (const row of rows) {
      if (row.status_class === statusClass && row.day === day && row.environment === environment) {
        row.count += count;
        row.rate_limited += rateLimited;
        return;
      }
    }
    rows.push({
      day,
      key_id: keyId,
      endpoint,
      environment,
      status_class: statusClass,
      count,
      rate_limited: rateLimited,
    });
  }

  function* pendingRows(): Generator<UsageDailyTable> {
    for (const byEndpoint of pending.values()) for (const rows of byEndpoint.values()) yield* rows;
  }

  async function write(rows: UsageDailyTable[]): Promise<void> {
    await db.transaction().execute(async (trx) => {
      for (let i = 0; i < rows.length; i += CHUNK) {
        await trx
          .insertInto('usage_daily')
          .values(rows.slice(i, i + CHUNK))
          .onConflict((oc) =>
            oc.columns(['day', 'key_id', 'endpoint', 'environment', 'status_class']).doUpdateSet((eb) => ({
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
      for (const r of batch) {
        add(r.day, r.key_id, r.endpoint, r.environment, r.status_class, r.count, r.rate_limited);
      }
      throw error;
    });
  }

  return {
    record(event: UsageEvent): void {
      const statusClass =
        STATUS_CLASSES[Math.floor(event.status / 100)] ?? `${Math.floor(event.status / 100)}xx`;
      add(
        utcDay(event.at),
        event.keyId,
        event.endpoint,
        event.environment,
        statusClass,
        1,
        event.rateLimited ? 1 : 0,
      );
    },

    /** Writes what has been counted so far; flushes never overlap. */
    flush(): Promise<void> {
      const next = flushing.then(flushOnce, flushOnce);
      flushing = next.catch(() => {});
      return next;
    },

    /** Requests a key made from `fromDay` to `toDay` (inclusive) that were not refused by a limit. */
    async usedBetween(keyId: string, fromDay: string, toDay: string): Promise<number> {
      const row = await db
        .selectFrom('usage_daily')
        .select((eb) => eb.fn.sum<number | string | null>(eb('count', '-', eb.ref('rate_limited'))).as('n'))
        .where('key_id', '=', keyId)
        .where('day', '>=', fromDay)
        .where('day', '<=', toDay)
        .executeTakeFirst();
      let used = Number(row?.n ?? 0);
      for (const p of pendingRows()) {
        if (p.key_id === keyId && p.day >= fromDay && p.day <= toDay) used += p.count - p.rate_limited;
      }
      return used;
    },
  };
}

export type UsageMeter = ReturnType<typeof createUsageMeter>;
