import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import BetterSqlite3 from 'better-sqlite3';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { buildApp, createServices, type Services } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';

const WRITES_AGAIN =
  /^The database takes writes again after \d+\.\d s with its disk full: \d+ failures? in all \(writes answered 507 storage_full\)$/;

/** SQLite on a tiny tmpfs that we fill up: writes fail clearly, nothing is corrupted, service resumes. */
describe('a full disk under the SQLite file', () => {
  const base = mkdtempSync(join(tmpdir(), 'gatehouse-full-'));
  const mountPoint = join(base, 'disk');
  const filler = join(mountPoint, 'filler');
  let services: Services & { close(): Promise<void> };
  let app: FastifyInstance;
  let url: string;
  let key: string;
  const logged: Array<{
    level: number;
    msg: string;
    err?: unknown;
    cause?: { code?: string };
    full_ms?: number;
    failures?: number;
  }> = [];

  before(async () => {
    mkdirSync(mountPoint);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=3M', 'tmpfs', mountPoint]);
    const config = loadConfig({
      DATABASE_URL: `sqlite:${join(mountPoint, 'gatehouse.db')}`,
      LOG_LEVEL: 'silent',
    });
    services = await createServices(config);
    const sink = new Writable({
      write(chunk, _encoding, done) {
        for (const line of String(chunk).split('\n')) if (line) logged.push(JSON.parse(line));
        done();
      },
    });
    app = buildApp(services, { logger: pino({ level: 'info' }, sink) });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const address = app.server.address();
    url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    await services.endpoints.create({ slug: 'notes', name: 'Notes', schema: { type: 'object' } });
    key = (await services.keys.create({ name: 'k', environment: 'test' })).key;
  });

  after(async () => {
    await app.close();
    await services.close();
    execFileSync('umount', [mountPoint]);
    rmSync(base, { recursive: true, force: true });
  });

  const post = (n: number) =>
    fetch(`${url}/api/v1/data/notes`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ n, text: 'x'.repeat(2000) }),
    });

  test('writes fail with 507 storage_full, acknowledged ones stay, and service resumes when space returns', async () => {
    const { bavail, bsize } = statfsSync(mountPoint);
    writeFileSync(filler, Buffer.alloc(Math.max(0, bavail * bsize - 150_000)));
    const acknowledged: string[] = [];
    let refusal: { status: number; body: Record<string, unknown> } | undefined;
    for (let n = 0; n < 500 && !refusal; n++) {
      const res = await post(n);
      const body = (await res.json()) as Record<string, unknown>;
      if (res.status === 202) acknowledged.push(String(body.id));
      else refusal = { status: res.status, body };
    }
    assert.ok(refusal, 'the disk never filled up');
    assert.equal(refusal.status, 507, JSON.stringify(refusal.body));
    assert.equal(refusal.body.code, 'storage_full');
    assert.doesNotMatch(JSON.stringify(refusal.body), /SQLITE|sqlite|stack/);
    for (let n = 0; n < 3; n++) assert.equal((await post(1_000 + n)).status, 507);
    // Said once (the next at most every 10 s), not an error line with a stack per refused write.
    const warnings = () => logged.filter((line) => line.level >= 40);
    assert.deepEqual(
      warnings().map((line) => [line.msg, line.cause?.code, line.err]),
      [
        [
          'The database disk is full: writes are answered 507 storage_full until space is freed',
          'SQLITE_FULL',
          undefined,
        ],
      ],
    );

    // Reads keep working, and every acknowledged write is there.
    for (const id of acknowledged.slice(-5)) {
      const res = await fetch(`${url}/api/v1/data/notes/${id}`, {
        headers: { authorization: `Bearer ${key}` },
      });
      assert.equal(res.status, 200);
    }

    // Nothing says writes go through while they do not.
    assert.deepEqual(
      logged.filter((line) => WRITES_AGAIN.test(line.msg)),
      [],
    );

    rmSync(filler);
    const resumed = await post(10_000);
    assert.equal(resumed.status, 202);
    // The first write that goes through says so, once, as the end of an outage is said.
    assert.equal((await post(10_001)).status, 202);
    const back = logged.filter((line) => WRITES_AGAIN.test(line.msg));
    assert.equal(back.length, 1, JSON.stringify(logged));
    assert.equal(back[0]?.level, 30);
    assert.ok((back[0]?.failures ?? 0) >= 4, JSON.stringify(back[0]));
    assert.ok(typeof back[0]?.full_ms === 'number');
    assert.deepEqual(
      warnings().map((line) => line.msg),
      ['The database disk is full: writes are answered 507 storage_full until space is freed'],
    );

    const check = new BetterSqlite3(join(mountPoint, 'gatehouse.db'), { readonly: true });
    try {
      assert.equal(check.pragma('integrity_check', { simple: true }), 'ok');
      const count = check.prepare('select count(*) as n from records').get() as { n: number };
      assert.equal(count.n, acknowledged.length + 2);
    } finally {
      check.close();
    }
  });
});
