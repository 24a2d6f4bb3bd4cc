import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import type { Services } from '../src/app.ts';
import { databaseKinds } from './helpers/database.ts';
import type { LogLine } from './helpers/log-lines.ts';
import { type LoggedServer, startLoggedServer } from './helpers/logged-server.ts';

const WARNING = '/metrics could not read the queue gauges from the database: they keep their last figures';

/**
 * A queue gauge that fails for a reason other than the database being down or full (here its
 * table renamed away under the server) is a fault someone must hear of: one warning with the
 * database's own words, no stack, at most every 10 s; the scrape still answers 200 with the last
 * figures.
 */
for (const kind of databaseKinds) {
  describe(`/metrics when a queue gauge cannot be read (${kind})`, () => {
    let server: LoggedServer;
    let services: Services;
    let url: string;
    let lines: LogLine[];

    before(async () => {
      server = await startLoggedServer(kind, 'info');
      ({ services, url, lines } = server);
    });

    after(() => server?.close());

    const scrape = async () => {
      const response = await fetch(`${url}/metrics`);
      const text = await response.text();
      assert.equal(response.status, 200, text);
      return text;
    };
    const rename = (from: string, to: string) =>
      sql`ALTER TABLE ${sql.table(from)} RENAME TO ${sql.table(to)}`.execute(services.database.db);

    test('one warning naming the cause, no stack, the scrape 200 with the last figures', async () => {
      await sql`UPDATE webhook_delivery_counts SET pending = pending + 3`.execute(services.database.db);
      assert.match(await scrape(), /^gatehouse_webhook_deliveries\{status="pending"\} 3$/m);
      const before = lines.length;

      await rename('webhook_delivery_counts', 'webhook_delivery_counts_away');
      try {
        for (let i = 0; i < 3; i++) {
          const text = await scrape();
          assert.match(text, /^gatehouse_webhook_deliveries\{status="pending"\} 3$/m);
          assert.match(text, /^gatehouse_outbox_queued 0$/m);
          assert.match(text, /^process_cpu_user_seconds_total /m);
        }
      } finally {
        await rename('webhook_delivery_counts_away', 'webhook_delivery_counts');
      }
      const during = lines.slice(before);
      const warnings = during.filter((line) => line.msg === WARNING);
      assert.equal(warnings.length, 1, JSON.stringify(during));
      const [warning] = warnings;
      assert.equal(warning?.level, 40);
      assert.match(
        String((warning?.cause as { message?: unknown } | undefined)?.message),
        /webhook_delivery_counts/,
      );
      assert.equal(warning?.failures, 1);
      assert.equal(warning?.err, undefined, 'no stack in the warning');
      assert.equal(
        during.some((line) => line.level >= 50),
        false,
        'no error line',
      );

      // Back in place: the figures read again, and nothing more is said.
      assert.match(await scrape(), /^gatehouse_webhook_deliveries\{status="pending"\} 3$/m);
      assert.equal(lines.slice(before).filter((line) => line.msg === WARNING).length, 1);
    });
  });
}
