import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { after, describe, test } from 'node:test';
import { freePort } from '../../bench/lib.ts';
import { createServices } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import { createTestDatabase, databaseKinds, type TestDatabase } from '../helpers/database.ts';
import { spawnGatehouse, waitHealthy } from '../helpers/process.ts';
import { type Receiver, startReceiver } from '../helpers/receiver.ts';

/**
 * kill -9 of `gatehouse start` under concurrent writes with callbacks: after a restart, every
 * acknowledged (202) write is readable and every one of their callbacks arrives (at least once).
 */
for (const kind of databaseKinds) {
  describe(`kill -9 under load (${kind})`, () => {
    let database: TestDatabase;
    let receiver: Receiver;
    let child: ChildProcess | undefined;

    after(async () => {
      child?.kill('SIGKILL');
      await receiver?.close();
      await database?.drop();
    });

    async function start(port: number): Promise<ChildProcess> {
      const proc = spawnGatehouse(['start'], {
        DATABASE_URL: database.url,
        PORT: String(port),
        LOG_LEVEL: 'warn',
        GATEHOUSE_WEBHOOK_ALLOW_NETS: '127.0.0.0/8',
      });
      await waitHealthy(port);
      return proc;
    }

    test('nothing acknowledged is lost and every pending callback is delivered after restart', async () => {
      database = await createTestDatabase(kind);
      receiver = await startReceiver();
      // Slow receiver: deliveries are still pending when the process dies.
      receiver.respond = () => ({ status: 200 });
      const setup = await createServices(loadConfig({ DATABASE_URL: database.url, LOG_LEVEL: 'silent' }));
      await setup.endpoints.create({
        slug: 'orders',
        name: 'Orders',
        schema: { type: 'object' },
        retry: { max_retries: 5, interval_seconds: 1 },
      });
      const { key } = await setup.keys.create({ name: 'k', environment: 'test' });
      await setup.close();

      const port = await freePort();
      child = await start(port);
      const acknowledged = new Set<string>();
      let stop = false;
      const writer = async (w: number) => {
        for (let i = 0; !stop; i++) {
          try {
            const res = await fetch(`http://127.0.0.1:${port}/api/v1/data/orders`, {
              method: 'POST',
              headers: {
                authorization: `Bearer ${key}`,
                'content-type': 'application/json',
                'x-webhook-callback': receiver.url,
              },
              body: JSON.stringify({ w, i }),
            });
            if (res.status === 202) acknowledged.add(((await res.json()) as { id: string }).id);
          } catch {
            return; // the process died under us
          }
        }
      };
      const writers = Array.from({ length: 16 }, (_, w) => writer(w));
      await new Promise((r) => setTimeout(r, 1_500));
      child.kill('SIGKILL');
      stop = true;
      await Promise.all(writers);
      assert.ok(acknowledged.size > 20, `only ${acknowledged.size} writes before the kill`);

      child = await start(port);
      for (const id of acknowledged) {
        const res = await fetch(`http://127.0.0.1:${port}/api/v1/data/orders/${id}`, {
          headers: { authorization: `Bearer ${key}` },
        });
        assert.equal(res.status, 200, `acknowledged ${id} lost`);
      }
      const deadline = Date.now() + 30_000;
      const delivered = () =>
        new Set(
          receiver.received.map(
            (d) => (JSON.parse(d.body) as { data: { record_id: string } }).data.record_id,
          ),
        );
      while (Date.now() < deadline && [...acknowledged].some((id) => !delivered().has(id))) {
        await new Promise((r) => setTimeout(r, 100));
      }
      const missing = [...acknowledged].filter((id) => !delivered().has(id));
      assert.deepEqual(missing, [], `${missing.length} callbacks never arrived`);
      // At least once: duplicates are possible, but each carries the same webhook-id for its event.
      const idsByRecord = new Map<string, Set<string>>();
      for (const d of receiver.received) {
        const recordId = (JSON.parse(d.body) as { data: { record_id: string } }).data.record_id;
        const set = idsByRecord.get(recordId) ?? new Set();
        set.add(String(d.headers['webhook-id']));
        idsByRecord.set(recordId, set);
      }
      assert.ok([...idsByRecord.values()].every((s) => s.size === 1));
      child.kill('SIGTERM');
    });
  });
}
