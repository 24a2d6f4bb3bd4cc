import type { Kysely, Migration } from 'kysely';
import { redacted, shellQuote } from '../../../dashboard/test-requests.ts';

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
          if (clean[name] === value) continue;
          changed = true;
          // The header's own `-H '…'` word, quoted as the curl line was made: nothing else in it.
          curl = curl
            .split(`-H ${shellQuote(`${name}: ${value}`)}`)
            .join(`-H ${shellQuote(`${name}: ${clean[name]}`)}`);
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
