import type { Kysely, Migration } from 'kysely';
import { redacted } from '../../../dashboard/test-requests.ts';

/**
 * The test page's history kept credential headers (X-Webhook-Auth…) in clear, in the request
 * and in its curl line, until they were stored redacted: the history written before is redacted
 * the same way, at rest.
 */
export function testRequestCredentialsMigration(): Migration {
  return {
    async up(untyped: Kysely<unknown>) {
      const db = untyped as Kysely<{
        test_requests: { id: string; request: string; response: string };
      }>;
      const rows = await db.selectFrom('test_requests').select(['id', 'request', 'response']).execute();
      for (const row of rows) {
        const request = JSON.parse(row.request) as { headers?: Record<string, string> };
        const response = JSON.parse(row.response) as { curl?: string };
        const headers = request.headers ?? {};
        const clean = redacted(headers);
        let curl = response.curl ?? '';
        let changed = false;
        for (const [name, value] of Object.entries(headers)) {
          if (clean[name] === value || value === '') continue;
          changed = true;
          curl = curl.split(value).join(clean[name] as string);
        }
        if (!changed) continue;
        await db
          .updateTable('test_requests')
          .set({
            request: JSON.stringify({ ...request, headers: clean }),
            response: JSON.stringify({ ...response, curl }),
          })
          .where('id', '=', row.id)
          .execute();
      }
    },
  };
}
