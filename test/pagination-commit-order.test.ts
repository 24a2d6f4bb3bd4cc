import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { databaseKinds } from './helpers/database.ts';
import { startTestServer, type TestServer } from './helpers/server.ts';

/**
 * On PostgreSQL a record's `seq` is handed out at INSERT and seen at COMMIT, and writes commit
 * in several transactions at once (and processes). A client following `next_cursor` with
 * `order=asc` must still see every record: one whose transaction commits late must not fall
 * behind a cursor that has moved past its seq. A trigger that sleeps stands in for a slow
 * transaction (a large batch, an import, a busy disk).
 */
describe('order=asc paging while a slow create commits', {
  skip: !databaseKinds.includes('postgres'),
}, () => {
  let server: TestServer;
  let key: string;

  before(async () => {
    server = await startTestServer('postgres');
    key = (await server.createKey({ name: 'pager', environment: 'test', scopes: ['*'] })).key;
    await server.createEndpoint({ slug: 'feed', name: 'Feed', schema: { type: 'object' } });
    const client = new pg.Client({ connectionString: server.database.url });
    await client.connect();
    try {
      await client.query(`create function slow_insert() returns trigger language plpgsql as $$
        begin if new.data like '%"slow"%' then perform pg_sleep(1.5); end if; return new; end $$`);
      await client.query(
        'create trigger slow_insert before insert on records for each row execute function slow_insert()',
      );
    } finally {
      await client.end();
    }
  });
  after(() => server.close());

  test('a client that follows next_cursor sees every record answered 202', async () => {
    const post = (v: string) => server.request('POST', '/api/v1/data/feed', { key, json: { v } });
    const page = async (cursor?: string) => {
      const res = await server.request(
        'GET',
        `/api/v1/data/feed?order=asc&limit=1${cursor ? `&after=${cursor}` : ''}`,
        { key },
      );
      assert.equal(res.status, 200, res.text);
      return {
        seen: res.body.data.map((r: { data: { v: string } }) => r.data.v) as string[],
        next: res.body.meta.next_cursor as string | null,
      };
    };
    assert.equal((await post('first')).status, 202);
    const slow = post('slow');
    // The slow create has its seq (its INSERT runs) before the others are sent.
    await new Promise((resolve) => setTimeout(resolve, 300));
    for (const v of ['b', 'c', 'd']) assert.equal((await post(v)).status, 202);
    // A client pages up to 'c' (the slow create may still be in its transaction), then on.
    const seen: string[] = [];
    let p = await page();
    seen.push(...p.seen);
    while (p.next && !seen.includes('c')) {
      p = await page(p.next);
      seen.push(...p.seen);
    }
    assert.equal((await slow).status, 202);
    while (p.next) {
      p = await page(p.next);
      seen.push(...p.seen);
    }
    assert.deepEqual([...seen].sort(), ['b', 'c', 'd', 'first', 'slow']);
  });
});
