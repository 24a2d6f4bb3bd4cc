import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { DatabaseConfig } from '../../src/config.ts';

export type DatabaseKind = 'sqlite' | 'postgres';

/** Every suite runs on both databases. GATEHOUSE_TEST_DATABASES=sqlite narrows it (e.g. no PostgreSQL at hand). */
export const databaseKinds: DatabaseKind[] = (process.env.GATEHOUSE_TEST_DATABASES ?? 'sqlite,postgres')
  .split(',')
  .map((s) => s.trim())
  .filter((s): s is DatabaseKind => s === 'sqlite' || s === 'postgres');

/**
 * What the names of the PostgreSQL databases the tests create start with; GATEHOUSE_TEST_DATABASE_PREFIX
 * tells one run's apart (a run beside others on one server).
 */
const databasePrefix = process.env.GATEHOUSE_TEST_DATABASE_PREFIX ?? 'gatehouse_test';
if (!/^[a-z_][a-z0-9_]{0,40}$/.test(databasePrefix)) {
  throw new Error(`GATEHOUSE_TEST_DATABASE_PREFIX must be a lower-case SQL name: ${databasePrefix}`);
}

export const postgresAdminUrl =
  process.env.GATEHOUSE_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** Runs one statement as the PostgreSQL superuser (ALTER DATABASE, pg_terminate_backend…). */
export async function postgresAdmin(text: string): Promise<void> {
  const client = new pg.Client({ connectionString: postgresAdminUrl });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}

export interface TestDatabase {
  config: DatabaseConfig;
  url: string;
  drop(): Promise<void>;
}

/** A fresh, empty database: a SQLite file in a temp folder, or a new PostgreSQL database. */
export async function createTestDatabase(kind: DatabaseKind): Promise<TestDatabase> {
  if (kind === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-test-'));
    const path = join(dir, 'gatehouse.db');
    return {
      config: { kind: 'sqlite', path },
      url: `sqlite:${path}`,
      drop: async () => rmSync(dir, { recursive: true, force: true }),
    };
  }
  const name = `${databasePrefix}_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: postgresAdminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(postgresAdminUrl);
  url.pathname = `/${name}`;
  return {
    config: { kind: 'postgres', url: url.toString() },
    url: url.toString(),
    drop: async () => {
      const client = new pg.Client({ connectionString: postgresAdminUrl });
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await client.end();
    },
  };
}
