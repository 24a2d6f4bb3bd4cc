import type { FastifyInstance } from 'fastify';
import type { Db } from '../infra/db/database.ts';
import type { UsageMeter } from './usage-meter.ts';
import { parseUsageQuery, queryUsage, USAGE_QUERY } from './usage-query.ts';

/** `GET /admin/v1/usage`: request counts, filtered and grouped by USAGE_QUERY's parameters. */
export function registerUsageRoutes(app: FastifyInstance, deps: { db: Db; usage: UsageMeter }): void {
  app.get('/admin/v1/usage', { config: { query: USAGE_QUERY } }, async (request) => {
    const filter = parseUsageQuery(request.query as Record<string, unknown>);
    // This process's counts are written first, so a single server answers exactly; other
    // processes' counts arrive within their flush interval.
    await deps.usage.flush();
    const rows = await queryUsage(deps.db, filter);
    const totals = { count: 0, rate_limited: 0 };
    for (const row of rows) {
      totals.count += row.count;
      totals.rate_limited += row.rate_limited;
    }
    return {
      success: true,
      data: { object: 'usage', from: filter.from, to: filter.to, group_by: filter.groupBy, rows, totals },
    };
  });
}
