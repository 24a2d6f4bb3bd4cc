import pg from 'pg';

/**
 * On a PostgreSQL test database: a trigger that holds each insert into `table` matching `when`
 * (a condition on `new`), inside its transaction, while the test holds the advisory lock `lock`;
 * and what the database's connections wait for. For tests that start a second write in that gap.
 */
export async function heldInserts(url: string, options: { table: string; when: string; lock: number }) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const name = `held_${options.table}`;
  await client.query(`create function ${name}() returns trigger language plpgsql as $$
    begin perform pg_advisory_xact_lock(${options.lock}); return new; end $$`);
  await client.query(`create trigger ${name} before insert on ${options.table} for each row
    when (${options.when}) execute function ${name}()`);
  return {
    client,
    async hold(): Promise<void> {
      await client.query('select pg_advisory_lock($1)', [options.lock]);
    },
    async release(): Promise<void> {
      await client.query('select pg_advisory_unlock($1)', [options.lock]);
    },
    /** What each of the database's connections waiting for a lock waits for, sorted (`advisory`, `transactionid`…). */
    async waits(): Promise<string[]> {
      const result = await client.query<{ wait_event: string }>(
        `select wait_event from pg_stat_activity
         where datname = current_database() and wait_event_type = 'Lock' order by wait_event`,
      );
      return result.rows.map((r) => r.wait_event);
    },
    end: () => client.end(),
  };
}
