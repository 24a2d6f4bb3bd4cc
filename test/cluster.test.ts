import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import BetterSqlite3 from 'better-sqlite3';
import { freePort } from '../bench/lib.ts';
import { createServices } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import { createTestDatabase, type TestDatabase } from './helpers/database.ts';
import { spawnGatehouse, waitHealthy } from './helpers/process.ts';
import { type Receiver, startReceiver } from './helpers/receiver.ts';
import { until } from './helpers/until.ts';

/** `gatehouse start --workers 2` on one SQLite file: one installation, whichever process answers. */
describe('start --workers 2 (SQLite, no Redis)', () => {
  let database: TestDatabase;
  let child: ChildProcess;
  let receiver: Receiver;
  let base: string;
  let token: string;
  let serverRecord: string;

  before(async () => {
    database = await createTestDatabase('sqlite');
    receiver = await startReceiver();
    const setup = await createServices(loadConfig({ DATABASE_URL: database.url, LOG_LEVEL: 'silent' }));
    token = (await setup.owners.init({ email: 'o@example.com', password: 'long enough password' })).token;
    await setup.endpoints.create({ slug: 'orders', name: 'Orders', schema: { type: 'object' } });
    await setup.close();
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    const cliFolder = mkdtempSync(join(tmpdir(), 'gatehouse-cluster-cli-'));
    serverRecord = join(cliFolder, 'server.json');
    child = spawnGatehouse(['start', '--workers', '2'], {
      GATEHOUSE_CLI_CREDENTIALS: join(cliFolder, 'cli.json'),
      DATABASE_URL: database.url,
      PORT: String(port),
      LOG_LEVEL: 'warn',
      GATEHOUSE_WEBHOOK_ALLOW_NETS: '127.0.0.0/8',
    });
    await waitHealthy(port);
  });

  after(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
    rmSync(dirname(serverRecord), { recursive: true, force: true });
    await receiver.close();
    await database.drop();
  });

  const deliveredInDatabase = () => {
    const db = new BetterSqlite3(database.config.kind === 'sqlite' ? database.config.path : '', {
      readonly: true,
    });
    try {
      return (
        db.prepare("select count(*) as n from webhook_deliveries where status = 'succeeded'").get() as {
          n: number;
        }
      ).n;
    } finally {
      db.close();
    }
  };

  const admin = (method: string, path: string, body?: unknown) =>
    fetch(`${base}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    }).then(async (r) => ({ status: r.status, body: (await r.json()) as { data: Record<string, string> } }));

  test('a per-minute limit is exact across processes, callbacks arrive, and a revoked key is refused by all', async () => {
    const created = await admin('POST', '/admin/v1/keys', {
      name: 'k',
      environment: 'test',
      limits: { per_minute: 40 },
    });
    const key = created.body.data.key ?? '';
    const post = () =>
      fetch(`${base}/api/v1/data/orders`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${key}`,
          'content-type': 'application/json',
          'x-webhook-callback': receiver.url,
        },
        body: '{"n":1}',
      });
    const statuses = await Promise.all(Array.from({ length: 60 }, () => post().then((r) => r.status)));
    assert.equal(statuses.filter((s) => s === 202).length, 40);
    assert.equal(statuses.filter((s) => s === 429).length, 20);
    await receiver.waitFor(40);

    await admin('POST', `/admin/v1/keys/${created.body.data.id}/revoke`);
    await new Promise((r) => setTimeout(r, 300));
    const after = await Promise.all(
      Array.from({ length: 20 }, () =>
        fetch(`${base}/api/v1/account`, { headers: { authorization: `Bearer ${key}` } }).then(
          (r) => r.status,
        ),
      ),
    );
    assert.ok(
      after.every((s) => s === 401),
      `after revoke: ${after}`,
    );
  });

  test("/metrics shows the whole installation's figures, whichever process answers the scrape", async () => {
    const created = await admin('POST', '/admin/v1/keys', { name: 'm', environment: 'test' });
    const key = created.body.data.key ?? '';
    const scrape = async () => {
      const res = await fetch(`${base}/metrics`);
      assert.equal(res.status, 200);
      const text = await res.text();
      const count = (status: string) =>
        Number(
          new RegExp(
            `gatehouse_http_requests_total\\{method="POST",route="/api/v1/data/:slug",status="${status}"\\} (\\d+)`,
          ).exec(text)?.[1] ?? 0,
        );
      return { created: count('202'), limited: count('429'), text };
    };
    const before = await scrape();
    // Each on a new connection, so both processes take some.
    for (let i = 0; i < 12; i++) {
      const res = await fetch(`${base}/api/v1/data/orders`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', connection: 'close' },
        body: '{"n":2}',
      });
      assert.equal(res.status, 202);
    }
    for (let i = 0; i < 6; i++) {
      const now = await scrape();
      assert.equal(now.created, before.created + 12, `scrape ${i}`);
      assert.equal(now.limited, before.limited, `scrape ${i}`);
      // One figure for the shared table, not one per process added up.
      assert.ok(/gatehouse_outbox_queued \d+/.test(now.text), 'the outbox gauge is there');
      const succeeded = Number(
        /gatehouse_webhook_deliveries\{status="succeeded"\} (\d+)/.exec(now.text)?.[1],
      );
      assert.ok(succeeded > 0, 'the callbacks of the first test were delivered');
      assert.equal(succeeded, deliveredInDatabase(), `scrape ${i}`);
    }
  });

  test('/metrics counters never go down when a worker dies and is replaced', async () => {
    const healthAnswers = async () => {
      const text = await (await fetch(`${base}/metrics`)).text();
      return Number(
        /gatehouse_http_requests_total\{method="GET",route="\/health",status="200"\} (\d+)/.exec(text)?.[1] ??
          0,
      );
    };
    // Each on a new connection: both processes answer some (round-robin).
    for (let i = 0; i < 12; i++) await fetch(`${base}/health`, { headers: { connection: 'close' } });
    const before = await healthAnswers();
    assert.ok(before >= 12, `counted ${before}`);
    const children = () => readFile(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').catch(() => '');
    const pids = (await children()).trim().split(' ');
    assert.equal(pids.length, 2);
    process.kill(Number(pids[0]), 'SIGKILL');
    const replaced = await until(
      children,
      (text) => !text.includes(pids[0] ?? '') && text.trim().split(' ').length === 2,
      30_000,
    );
    assert.equal(replaced.trim().split(' ').length, 2, 'the worker was replaced');
    await waitHealthy(Number(new URL(base).port));
    for (let i = 0; i < 6; i++) {
      const now = await healthAnswers();
      assert.ok(now >= before, `scrape ${i}: ${now} answers counted, ${before} before the worker died`);
    }
  });

  test('the CLI finds the cluster through ./data/server.json, which goes when the cluster stops', async () => {
    const record = JSON.parse(readFileSync(serverRecord, 'utf8'));
    assert.deepEqual(record, { url: base, pid: child.pid, servers: [{ url: base, pid: child.pid }] });
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    assert.equal(existsSync(serverRecord), false);
  });
});
