import { type Compilable, CompiledQuery, type QueryExecutorProvider, type QueryResult } from 'kysely';
import type { DialectAdapter } from './dialect.ts';

type Executor = QueryExecutorProvider & { executeQuery<R>(query: CompiledQuery<R>): Promise<QueryResult<R>> };

/**
 * A hot-path query built once with Kysely (so it is written in the right dialect) and then run
 * with fresh parameters, skipping the query builder and compiler on every request. The
 * parameters must be given in the order they appear in the built query.
 */
export function preparedQuery<R, P extends unknown[]>(query: Compilable<R>) {
  const { sql } = query.compile();
  return (executor: Executor, ...parameters: P) =>
    executor.executeQuery<R>(CompiledQuery.raw(sql, parameters) as CompiledQuery<R>);
}

/** A hot-path read of one row, compiled once, run through `DialectAdapter.readFirst` (see there). */
export function preparedReadFirst<R, P extends unknown[]>(dialect: DialectAdapter, query: Compilable<R>) {
  const { sql } = query.compile();
  return (...parameters: P) => dialect.readFirst<R>(sql, parameters);
}
