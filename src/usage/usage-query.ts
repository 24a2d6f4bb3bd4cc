import { invalid } from '../errors.ts';
import type { Db } from '../infra/db/database.ts';
import { utcDay } from '../limits/windows.ts';

export const DIMENSIONS = ['day', 'key_id', 'endpoint', 'environment', 'status_class', 'status'] as const;
export type Dimension = (typeof DIMENSIONS)[number];

export interface UsageFilter {
  from: string;
  to: string;
  keyId?: string;
  endpoint?: string;
  environment?: 'test' | 'live';
  statusClass?: string;
  status?: number;
  groupBy: Dimension[];
}

export interface UsageRow {
  day?: string;
  key_id?: string;
  endpoint?: string | null;
  environment?: string;
  status_class?: string;
  /** The exact status; null for requests counted before exact statuses were. */
  status?: number | null;
  count: number;
  rate_limited: number;
}

const DAY = /^\d{4}-\d{2}-\d{2}$/;
const MAX_DAYS = 366;

function isoDay(value: string): string | undefined {
  const time = Date.parse(`${value}T00:00:00Z`);
  return Number.isNaN(time) ? undefined : new Date(time).toISOString().slice(0, 10);
}

/** A parameter sent twice arrives as an array: said as such, not as a wrong type. */
function once(value: unknown, field: string): unknown {
  if (Array.isArray(value)) throw invalid(field, 'May be given only once');
  return value;
}

function day(given: unknown, field: string, fallback: string): string {
  const value = once(given, field);
  if (value === undefined || value === '') return fallback;
  // A real day: Date rolls 2026-02-30 over into March, so the round trip must give it back.
  const real = typeof value === 'string' && DAY.test(value) && isoDay(value) === value;
  if (!real) {
    throw invalid(field, 'Must be a date: YYYY-MM-DD (UTC)');
  }
  return value;
}

function text(given: unknown, field: string): string | undefined {
  const value = once(given, field);
  if (value === undefined || value === '') return undefined;
  if (typeof value !== 'string') throw invalid(field, 'Must be a string');
  if (value.length > 200) throw invalid(field, 'Must be at most 200 characters');
  return value;
}

/** What `GET /admin/v1/usage` takes (known-query.ts refuses any other name). */
export const USAGE_QUERY = {
  from: 'First day, YYYY-MM-DD (UTC); default 29 days before `to`',
  to: 'Last day, YYYY-MM-DD (UTC); default today',
  key_id: 'Only this key',
  endpoint: 'Only this endpoint (slug)',
  environment: 'test or live',
  status_class: '1xx, 2xx, 3xx, 4xx or 5xx',
  status: 'Only this HTTP status, e.g. 429',
  group_by: `Comma-separated subset of ${DIMENSIONS.join(', ')} (default all)`,
} as const;

/** `GET /admin/v1/usage` query → a filter; the default range is the last 30 days. */
export function parseUsageQuery(query: Record<string, unknown>, now = Date.now()): UsageFilter {
  const to = day(query.to, 'to', utcDay(now));
  const from = day(query.from, 'from', utcDay(Date.parse(`${to}T00:00:00Z`) - 29 * 86_400_000));
  if (from > to) {
    // Said with the day it is compared with: a `from` sent alone meets a `to` nobody typed.
    const given = query.to !== undefined && query.to !== '';
    throw invalid(
      'from',
      given ? 'Must not be after `to`' : `Must not be after today (${to}), the default \`to\``,
    );
  }
  if ((Date.parse(to) - Date.parse(from)) / 86_400_000 >= MAX_DAYS) {
    throw invalid('from', `The range can span at most ${MAX_DAYS} days`);
  }
  // Blank is no environment, refused as the other lists refuse it: not read as both environments.
  const environment = once(query.environment, 'environment') as string | undefined;
  if (environment !== undefined && environment !== 'test' && environment !== 'live') {
    throw invalid('environment', 'Must be test or live');
  }
  const statusClass = text(query.status_class, 'status_class');
  if (statusClass !== undefined && !/^[1-5]xx$/.test(statusClass)) {
    throw invalid('status_class', 'Must be one of 1xx, 2xx, 3xx, 4xx, 5xx');
  }
  const statusText = text(query.status, 'status');
  if (statusText !== undefined && !/^[1-5]\d\d$/.test(statusText)) {
    throw invalid('status', 'Must be an HTTP status code, 100 to 599');
  }
  const groupText = text(query.group_by, 'group_by');
  const groupBy = groupText === undefined ? [...DIMENSIONS] : groupText.split(',').map((s) => s.trim());
  for (const g of groupBy) {
    if (!(DIMENSIONS as readonly string[]).includes(g)) {
      throw invalid('group_by', `Use a comma-separated subset of ${DIMENSIONS.join(', ')}`);
    }
  }
  return {
    from,
    to,
    keyId: text(query.key_id, 'key_id'),
    endpoint: text(query.endpoint, 'endpoint'),
    environment,
    statusClass,
    status: statusText === undefined ? undefined : Number(statusText),
    groupBy: DIMENSIONS.filter((d) => groupBy.includes(d)),
  };
}

/** Sums of the stored counts over the filter, one row per combination of the grouped dimensions. */
export async function queryUsage(db: Db, filter: UsageFilter): Promise<UsageRow[]> {
  let query = db
    .selectFrom('usage_daily')
    .select((eb) => [
      eb.fn.sum<number | string>('count').as('count'),
      eb.fn.sum<number | string>('rate_limited').as('rate_limited'),
    ])
    .where('day', '>=', filter.from)
    .where('day', '<=', filter.to);
  if (filter.keyId !== undefined) query = query.where('key_id', '=', filter.keyId);
  if (filter.endpoint !== undefined) query = query.where('endpoint', '=', filter.endpoint);
  if (filter.environment !== undefined) query = query.where('environment', '=', filter.environment);
  if (filter.statusClass !== undefined) query = query.where('status_class', '=', filter.statusClass);
  if (filter.status !== undefined) query = query.where('status', '=', filter.status);
  for (const d of filter.groupBy)
    query = query
      .select(d)
      .groupBy(d)
      .orderBy(d, d === 'day' ? 'desc' : 'asc');
  const rows = (await query.execute()) as Array<Record<string, unknown>>;
  return rows.map((r) => {
    const row: UsageRow = { count: Number(r.count ?? 0), rate_limited: Number(r.rate_limited ?? 0) };
    for (const d of filter.groupBy) {
      const value = r[d];
      if (d === 'endpoint') row.endpoint = value === '' ? null : (value as string);
      else if (d === 'status') row.status = Number(value) === 0 ? null : Number(value);
      else row[d] = value as string;
    }
    return row;
  });
}
