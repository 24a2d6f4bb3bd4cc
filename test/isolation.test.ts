import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { databaseKinds } from './helpers/database.ts';
import { startTestServer, type TestServer } from './helpers/server.ts';

/** Environments and endpoints are walls: every data route, every direction, answers 404 across them. */
for (const kind of databaseKinds) {
  describe(`isolation between environments and endpoints (${kind})`, () => {
    let server: TestServer;
    const keys: Record<'test' | 'live', string> = { test: '', live: '' };
    const records: Record<string, string> = {};

    before(async () => {
      server = await startTestServer(kind);
      for (const slug of ['alpha', 'beta']) {
        await server.createEndpoint({ slug, name: slug, schema: { type: 'object' } });
        await server.admin('POST', `/admin/v1/endpoints/${slug}/deploy`);
      }
      keys.test = (await server.createKey({ name: 't', environment: 'test' })).key;
      keys.live = (await server.createKey({ name: 'l', environment: 'live' })).key;
      for (const env of ['test', 'live'] as const) {
        for (const slug of ['alpha', 'beta']) {
          const res = await server.request('POST', `/api/v1/data/${slug}`, {
            key: keys[env],
            json: { env, slug },
          });
          assert.equal(res.status, 202);
          records[`${env}:${slug}`] = res.body.id;
        }
      }
    });
    after(() => server.close());

    async function snapshot(): Promise<string> {
      const rows = await server.services.database.db
        .selectFrom('records')
        .select(['id', 'data', 'version'])
        .orderBy('id')
        .execute();
      return JSON.stringify(rows);
    }

    test('no key reaches a record of another environment or endpoint, by any method', async () => {
      const before = await snapshot();
      for (const env of ['test', 'live'] as const) {
        for (const [where, id] of Object.entries(records)) {
          const [recordEnv, recordSlug] = where.split(':');
          for (const slug of ['alpha', 'beta']) {
            if (recordEnv === env && recordSlug === slug) continue;
            for (const method of ['GET', 'PUT', 'DELETE']) {
              const res = await server.request(method, `/api/v1/data/${slug}/${id}`, {
                key: keys[env],
                json: method === 'PUT' ? { hijacked: true } : undefined,
              });
              assert.equal(res.status, 404, `${env} key, ${method} ${slug}/${id} (${where})`);
              assert.equal(res.body.code, 'record_not_found');
            }
          }
        }
      }
      assert.equal(await snapshot(), before);
    });

    test('lists show only the caller’s environment and endpoint', async () => {
      for (const env of ['test', 'live'] as const) {
        for (const slug of ['alpha', 'beta']) {
          const res = await server.request('GET', `/api/v1/data/${slug}`, { key: keys[env] });
          assert.deepEqual(
            res.body.data.map((r: { id: string }) => r.id),
            [records[`${env}:${slug}`]],
          );
        }
      }
    });

    test('a cursor from one environment is refused in the other', async () => {
      await server.request('POST', '/api/v1/data/alpha', { key: keys.test, json: { more: 1 } });
      const page = await server.request('GET', '/api/v1/data/alpha?limit=1', { key: keys.test });
      const cursor = page.body.meta.next_cursor as string;
      assert.ok(cursor);
      const res = await server.request('GET', `/api/v1/data/alpha?limit=1&after=${cursor}`, {
        key: keys.live,
      });
      assert.equal(res.status, 400);
      assert.equal(res.body.code, 'invalid_cursor');
    });
  });
}
