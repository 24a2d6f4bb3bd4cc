import type { EndpointRuntime } from '../endpoints/endpoint-service.ts';
import type { Db } from '../infra/db/database.ts';
import type { DialectAdapter } from '../infra/db/dialect.ts';
import type { Environment } from '../keys/key-service.ts';
import { recordJson } from '../records/record-json.ts';
import type { FilterValue } from '../records/record-reader.ts';
import type { RangeOperator } from './definition.ts';

/**
 * The `find` step's query: equality and range filters on top-level fields and an order by a
 * field, which the data API's list (equality only, newest first, cursor pages) does not offer.
 * Comparisons use the same JSON field access as the data API (dialect.ts), so values compare
 * by their JSON type on both databases.
 */

export interface FindQuery {
  filters: Array<{ field: string; op: RangeOperator; value: FilterValue }>;
  order: { field: string; direction: 'asc' | 'desc' } | undefined;
  limit: number;
}

const SQL_OPERATORS = { eq: '=', gt: '>', gte: '>=', lt: '<', lte: '<=' } as const;

export type RecordFinder = (
  endpoint: EndpointRuntime,
  environment: Environment,
  query: FindQuery,
) => Promise<string>;

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
        // `eq null`: the field is missing or JSON null (the two read differently on PostgreSQL).
        q = q.where((eb) =>
          eb.or([
            eb(dialect.jsonField('data', field), 'is', null),
            eb(dialect.jsonField('data', field), '=', dialect.jsonValue(null)),
          ]),
        );
        continue;
      }
      q = q.where((eb) => eb(dialect.jsonField('data', field), SQL_OPERATORS[op], dialect.jsonValue(value)));
    }
    if (query.order) q = q.orderBy(dialect.jsonField('data', query.order.field), query.order.direction);
    const rows = await q
      .orderBy('seq', query.order?.direction ?? 'desc')
      .limit(query.limit)
      .execute();
    return `[${rows.map((row) => recordJson(row, endpoint.slug)).join(',')}]`;
  };
}
