import { sql } from 'kysely';
import type { EndpointRuntime } from '../endpoints/endpoint-service.ts';
import type { Db } from '../infra/db/database.ts';
import type { DialectAdapter, JsonRangeOp, JsonScalar } from '../infra/db/dialect.ts';
import type { Environment } from '../keys/key-service.ts';
import { recordJson } from '../records/record-json.ts';
import type { FilterValue } from '../records/record-reader.ts';
import type { RangeOperator } from './definition.ts';

/**
 * The `find` step's query: equality and range filters on top-level fields and an order by a
 * field, which the data API's list (equality only, newest first, cursor pages) does not offer.
 * A comparison matches only values of its own JSON type, and the order ranks the types, so that
 * both databases answer alike (dialect.ts): a bare comparison would not (PostgreSQL's jsonb
 * orders across types, SQLite reads true as 1).
 */

export interface FindQuery {
  filters: Array<{ field: string; op: RangeOperator; value: FilterValue }>;
  order: { field: string; direction: 'asc' | 'desc' } | undefined;
  limit: number;
}

const RANGE_OPS: Record<Exclude<RangeOperator, 'eq'>, JsonRangeOp> = {
  gt: '>',
  gte: '>=',
  lt: '<',
  lte: '<=',
};

export type RecordFinder = (
  endpoint: EndpointRuntime,
  environment: Environment,
  query: FindQuery,
) => Promise<string>;

/** `eq` as the data API's filters compare: a number is matched by its JSON text (JSON.stringify). */
function equalTo(value: string | number | boolean): JsonScalar {
  if (typeof value === 'string') return { type: 'string', value };
  if (typeof value === 'boolean') return { type: 'boolean', value };
  return { type: 'number', texts: [JSON.stringify(value)] };
}

/** The matching records as a JSON array text, in the contract's record shape. Range operators never get null. */
export function createRecordFinder(db: Db, dialect: DialectAdapter): RecordFinder {
  return async (endpoint, environment, query) => {
    let q = db
      .selectFrom('records')
      .select(['seq', 'id', 'data', 'version', 'created_at', 'updated_at', 'environment'])
      .where('endpoint_id', '=', endpoint.id)
      .where('environment', '=', environment);
    for (const { field, op, value } of query.filters) {
      if (value === null) {
        // `eq null`: the field is missing or JSON null.
        q = q.where(sql`coalesce(${dialect.jsonType('data', field)}, 'null')`, '=', 'null');
      } else if (op === 'eq') {
        q = q.where(dialect.jsonEquals('data', field, [equalTo(value)]));
      } else {
        q = q.where(dialect.jsonCompare('data', field, RANGE_OPS[op], value));
      }
    }
    const direction = query.order?.direction ?? 'desc';
    if (query.order) {
      // JSON null, numbers, strings, booleans, arrays and objects, then records without the field.
      const rank = sql`(case ${dialect.jsonType('data', query.order.field)} when 'null' then 0 when 'number' then 1 when 'string' then 2 when 'boolean' then 3 when 'array' then 4 when 'object' then 4 else 5 end)`;
      q = q.orderBy(rank, direction);
      const reverse = direction === 'asc' ? 'desc' : 'asc';
      for (const { key, reversed } of dialect.jsonSortKeys('data', query.order.field))
        q = q.orderBy(key, reversed ? reverse : direction);
    }
    const rows = await q.orderBy('seq', direction).limit(query.limit).execute();
    return `[${rows.map((row) => recordJson(row, endpoint.slug)).join(',')}]`;
  };
}
