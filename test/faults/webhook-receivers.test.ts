import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { type Receiver, startReceiver } from '../helpers/receiver.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

/** Hostile receivers: hanging, resetting, slow, and 50 MB answers. Timeouts and caps hold; others still get theirs. */
describe('webhook receivers that misbehave', () => {
  let server: TestServer;
  let good: Receiver;
  const bad: Server[] = [];
  const urls: Record<string, string> = {};

  async function hostile(name: string, handler: Parameters<typeof createServer>[1]): Promise<void> {
    const s = createServer(handler);
    await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
    const address = s.address();
    urls[name] = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/`;
    bad.push(s);
  }

  before(async () => {
    server = await startTestServer(
      'sqlite',
      {
        GATEHOUSE_WEBHOOK_ALLOW_NETS: '127.0.0.0/8',
        GATEHOUSE_WEBHOOK_TIMEOUT_MS: '1000',
        GATEHOUSE_WEBHOOK_PER_ORIGIN: '2',
      },
      { worker: true },
    );
    good = await startReceiver();
    await hostile('hang', () => {
      // never answers
    });
    await hostile('reset', (req) => req.socket.destroy());
    await hostile('slow', (_req, res) => {
      res.writeHead(200);
      const drip = setInterval(() => res.write('.'), 300);
      res.on('close', () => clearInterval(drip));
    });
    await hostile('huge', (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      const chunk = Buffer.alloc(1024 * 1024, 97);
      let sent = 0;
      const pump = () => {
        while (sent < 50 && res.write(chunk)) sent++;
        if (sent >= 50) res.end();
        else res.once('drain', pump);
      };
      pump();
    });
    await server.createEndpoint({
      slug: 'orders',
      name: 'Orders',
      schema: { type: 'object' },
      retry: { max_retries: 0, interval_seconds: 1 },
    });
  });

  after(async () => {
    await server.close();
    await good.close();
    for (const s of bad) {
      s.closeAllConnections();
      await new Promise((r) => s.close(r));
    }
  });

  test('each bad receiver fails cleanly within the timeout, and a good receiver is not starved', async () => {
    const key = (await server.createKey({ name: 'k', environment: 'test' })).key;
    const ids: Record<string, string[]> = {};
    // Many deliveries to the hanging receiver first, so a starving design would block the rest.
    for (const name of ['hang', 'hang', 'hang', 'hang', 'hang', 'hang', 'reset', 'slow', 'huge']) {
      const res = await server.request('POST', '/api/v1/data/orders', {
        key,
        json: { name },
        headers: { 'x-webhook-callback': urls[name] ?? '' },
      });
      ids[name] = [...(ids[name] ?? []), res.body.id];
    }
    const started = Date.now();
    const fine = await server.request('POST', '/api/v1/data/orders', {
      key,
      json: { good: true },
      headers: { 'x-webhook-callback': good.url },
    });
    await good.waitFor(1, 5_000);
    assert.ok(Date.now() - started < 5_000);

    const settle = async (id: string) => {
      for (let i = 0; i < 200; i++) {
        const log = await server.admin('GET', `/admin/v1/deliveries?record_id=${id}`);
        const d = log.body.data[0];
        if (d && d.status !== 'pending') return d;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(`delivery for ${id} never settled`);
    };
    for (const id of ids.hang ?? []) {
      const d = await settle(id);
      assert.equal(d.status, 'failed');
      assert.match(d.last_error, /timed out/);
      assert.ok(d.attempts[0].duration_ms < 3_000, `hang attempt took ${d.attempts[0].duration_ms} ms`);
    }
    const reset = await settle(ids.reset?.[0] ?? '');
    assert.equal(reset.status, 'failed');
    assert.ok(reset.last_error);
    const slow = await settle(ids.slow?.[0] ?? '');
    assert.equal(slow.status, 'failed');
    assert.match(slow.last_error, /timed out/);
    const huge = await settle(ids.huge?.[0] ?? '');
    assert.equal(huge.status, 'succeeded');
    assert.ok(huge.attempts[0].response_body.length <= 4096);
    const fineLog = await settle(fine.body.id);
    assert.equal(fineLog.status, 'succeeded');
  });
});
