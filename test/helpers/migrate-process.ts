/**
 * A process that brings a SQLite database up to date, as every Gatehouse process does as it
 * starts (openDatabase), once told to: several of them are started, then told at once.
 *   node --import tsx test/helpers/migrate-process.ts <database> [stop-after] [kill|hold]
 * Prints `ready` once loaded, then migrates on the first line read from stdin, prints `migrated`
 * and exits 0 (or prints the error and exits 1). With `stop-after` (a pattern of SQL), it stops
 * right after the first statement that matches: `kill` ends the process there (SIGKILL, as a
 * crash would), `hold` blocks it there, whatever it holds, until the test kills it.
 */
import { writeSync } from 'node:fs';
import { Kysely } from 'kysely';
import { createDialect } from '../../src/infra/db/dialect.ts';
import { migrateToLatest } from '../../src/infra/db/migrations.ts';

const [path = '', stopAfter, how = 'kill'] = process.argv.slice(2);
const pattern = stopAfter ? new RegExp(stopAfter, 'i') : undefined;
const dialect = createDialect({ kind: 'sqlite', path });
const db = new Kysely<unknown>({
  dialect: dialect.kysely,
  log(event) {
    if (!pattern?.test(event.query.sql)) return;
    writeSync(1, 'stopped\n');
    if (how === 'kill') process.kill(process.pid, 'SIGKILL');
    // Synchronously: no other statement (no COMMIT or ROLLBACK) runs on this connection meanwhile.
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
  },
});

writeSync(1, 'ready\n');
process.stdin.once('data', () => {
  migrateToLatest(db, 'sqlite').then(
    async () => {
      await db.destroy();
      writeSync(1, 'migrated\n');
      process.exit(0);
    },
    (error: unknown) => {
      writeSync(2, `${error instanceof Error ? error.message : String(error)}\n`);
      process.exit(1);
    },
  );
});
