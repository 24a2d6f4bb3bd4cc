import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import BetterSqlite3 from 'better-sqlite3';
import {
  type SqliteWriteThread,
  startSqliteWriteThread,
  THREAD_STOPPED,
} from '../src/infra/db/sqlite-write-thread.ts';

/**
 * The SQLite write thread on its own: batches commit on its connection (seen by any other
 * connection once `run` resolves), batches that queue up share a transaction, and a batch that
 * fails is rolled back alone with SQLite's error code while the others commit.
 */
describe('SQLite write thread', () => {
  let dir: string;
  let db: BetterSqlite3.Database;
  let thread: SqliteWriteThread;

  const ids = () => (db.prepare('select id from t order by id').pluck().all() as string[]).join(',');

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-thread-'));
    db = new BetterSqlite3(join(dir, 'thread.db'));
    db.pragma('journal_mode = WAL');
    db.exec('create table t (id text primary key, v text not null); create table u (n integer not null)');
    thread = startSqliteWriteThread(join(dir, 'thread.db'), [
      'insert into t (id, v) values (?, ?)',
      'insert into u (n) values (?)',
    ]);
  });

  after(async () => {
    await thread.close();
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('starts, then commits a batch that other connections see at once', async () => {
    assert.equal(await thread.started, true);
    assert.equal(thread.ready, true);
    await thread.run([
      [0, 'a', 'first'],
      [1, 1],
    ]);
    assert.equal(ids(), 'a');
    assert.equal(db.prepare('select count(*) from u').pluck().get(), 1);
  });

  test('a failing batch is rolled back alone; the batches queued with it commit', async () => {
    const results = await Promise.allSettled([
      thread.run([[0, 'b', 'x']]),
      thread.run([[0, 'c', 'x']]),
      // 'a' exists: this batch fails, and its first row ('d') must not be written either.
      thread.run([
        [0, 'd', 'x'],
        [0, 'a', 'again'],
      ]),
      thread.run([[0, 'e', 'x']]),
    ]);
    assert.deepEqual(
      results.map((r) => r.status),
      ['fulfilled', 'fulfilled', 'rejected', 'fulfilled'],
    );
    const failure = results[2] as PromiseRejectedResult;
    assert.match(String(failure.reason.code), /^SQLITE_CONSTRAINT/);
    assert.match(String(failure.reason.message), /UNIQUE|PRIMARY KEY/i);
    assert.equal(ids(), 'a,b,c,e');
    assert.equal(db.prepare("select v from t where id = 'a'").pluck().get(), 'first');
  });

  test('many batches posted at once all commit', async () => {
    const before = db.prepare('select count(*) from t').pluck().get() as number;
    const batches = Array.from({ length: 200 }, (_, n) =>
      thread.run([[0, `m${String(n).padStart(3, '0')}`, 'x']]),
    );
    await Promise.all(batches);
    assert.equal(db.prepare('select count(*) from t').pluck().get(), before + 200);
  });

  test('a batch tells the rows its counted statements wrote and what its returning statements returned', async () => {
    const other = startSqliteWriteThread(
      join(dir, 'thread.db'),
      [
        'insert into u (n) values (?)',
        'update t set v = ? where id = ? returning v',
        'insert into u (n) select ? where ? = 1',
      ],
      [2],
    );
    assert.equal(await other.started, true);
    const result = await other.run([
      [0, 40],
      [1, 'changed', 'a'],
      [1, 'nothing', 'no-such-id'],
      [2, 41, 1],
      [2, 42, 0],
    ]);
    assert.deepEqual(result, { counted: 1, returned: ['changed', null] });
    assert.equal(db.prepare("select v from t where id = 'a'").pluck().get(), 'changed');
    assert.deepEqual(db.prepare('select n from u where n >= 40 order by n').pluck().all(), [40, 41]);
    await other.close();
  });

  test('after close it refuses work instead of hanging', async () => {
    const other = startSqliteWriteThread(join(dir, 'thread.db'), ['insert into u (n) values (?)']);
    assert.equal(await other.started, true);
    await other.run([[0, 7]]);
    await other.close();
    assert.equal(other.ready, false);
    await assert.rejects(other.run([[0, 8]]), /not running/);
    assert.equal(db.prepare('select count(*) from u where n = 8').pluck().get(), 0);
  });

  test('stopAfterCommits (tests only): the first batch of that commit is stored, no batch in flight is answered', async () => {
    const dying = startSqliteWriteThread(join(dir, 'thread.db'), ['insert into u (n) values (?)'], [], {
      stopAfterCommits: 2,
    });
    assert.equal(await dying.started, true, 'the thread started');
    await dying.run([[0, 100]]);
    const results = await Promise.allSettled([dying.run([[0, 101]]), dying.run([[0, 102]])]);
    assert.deepEqual(
      results.map((r) => (r.status === 'rejected' ? r.reason.code : 'answered')),
      [THREAD_STOPPED, THREAD_STOPPED],
      'both batches in flight fail as stopped, none answered',
    );
    assert.deepEqual(
      db.prepare('select n from u where n >= 100 order by n').pluck().all(),
      [100, 101],
      'the first batch of the second commit is stored, the other never is',
    );
    assert.equal(dying.ready, false, 'a stopped thread is never used again');
    await dying.close();
  });

  test('a statement that cannot be prepared: the thread says so and is never used', async () => {
    const bad = startSqliteWriteThread(join(dir, 'thread.db'), ['insert into missing_table values (?)']);
    assert.equal(await bad.started, false);
    assert.equal(bad.ready, false);
    await bad.close();
  });
});
