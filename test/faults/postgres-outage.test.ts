import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildApp, createServices, type Services } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import { type PrivateServer, privatePostgres } from '../helpers/private-services.ts';

interface Outcome {
  status: number;
  id?: string;
  code?: string;
  retryAfter: string | null;
  ms: number;
}

/** PostgreSQL stopped mid-load and started again: fast 503s while down, recovery by itself, nothing acknowledged lost. */
describe('PostgreSQL goes away under load and comes back', () => {
  let pg: PrivateServer;
  let services: Services & { close(): Promise<void> };
  let app: FastifyInstance;
  let url: string;
  let key: string;

  before(async () => {
    pg = await privatePostgres();
    services = await createServices(loadConfig({ DATABASE_URL: pg.url, LOG_LEVEL: 'silent' }));
    app = buildApp(services, { logger: false });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const address = app.server.address();
    url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    await services.endpoints.create({ slug: 'orders', name: 'Orders', schema: { type: 'object' } });
    key = (await services.keys.create({ name: 'k', environment: 'test' })).key;
  });

  after(async () => {
    await app.close();
    await services.close();
    await pg.destroy();
  });

  async function post(n: number): Promise<Outcome> {
    const started = Date.now();
    const res = await fetch(`${url}/api/v1/data/orders`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ n }),
      signal: AbortSignal.timeout(30_000),
    });
    const body = (await res.json()) as { id?: string; code?: string };
    return {
      status: res.status,
      id: body.id,
      code: body.code,
      retryAfter: res.headers.get('retry-after'),
      ms: Date.now() - started,
    };
  }

  test('writes answer 503 + Retry-After while it is down, 202 again after, and every 202 is kept', async () => {
    const outcomes: Outcome[] = [];
    let phase: 'up' | 'down' | 'back' = 'up';
    let n = 0;
    const load = async () => {
      while (phase !== 'back' || outcomes.filter((o) => o.status === 202 && o.ms >= 0).length < 5) {
        const outcome = await post(n++);
        outcomes.push(outcome);
        if (phase === 'back' && outcome.status === 202) break;
      }
    };
    const workers = Array.from({ length: 8 }, load);
    await new Promise((r) => setTimeout(r, 500));
    await pg.stop();
    phase = 'down';
    await new Promise((r) => setTimeout(r, 2_000));
    const duringOutage = outcomes.length;
    await pg.start();
    phase = 'back';
    await Promise.all(workers);

    const failures = outcomes.filter((o) => o.status !== 202);
    assert.ok(failures.length > 0, 'no request saw the outage');
    assert.ok(outcomes.length > duringOutage, 'no request after the restart');
    for (const f of failures) {
      assert.equal(f.status, 503, `unexpected ${f.status} ${f.code}`);
      assert.equal(f.code, 'service_unavailable');
      assert.ok(Number(f.retryAfter) > 0);
      assert.ok(f.ms < 10_000, `a request hung for ${f.ms} ms`);
    }
    const after = await post(n++);
    assert.equal(after.status, 202);

    const acknowledged = outcomes.filter((o) => o.status === 202).map((o) => String(o.id));
    for (const id of acknowledged) {
      const res = await fetch(`${url}/api/v1/data/orders/${id}`, {
        headers: { authorization: `Bearer ${key}` },
      });
      assert.equal(res.status, 200, `acknowledged ${id} is missing`);
    }
  });
});
