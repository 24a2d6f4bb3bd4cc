import assert from 'node:assert/strict';
import { existsSync, readFileSync, watch } from 'node:fs';
import { basename, dirname } from 'node:path';
import { after, before, test } from 'node:test';
import { createServices } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import { createEncryptor } from '../src/infra/crypto/encryption.ts';
import { openDatabase } from '../src/infra/db/database.ts';
import { loadInstallationSecret } from '../src/infra/installation-secret.ts';
import { pendingSecretFileOf, secretFileOf } from '../src/infra/secret-file.ts';
import { createTestDatabase, type TestDatabase } from './helpers/database.ts';
import { runGatehouse } from './helpers/process.ts';

/** Requests with a sealed callback: enough that the rotation's transaction takes a while. */
const SEALED_REQUESTS = 20_000;

let database: TestDatabase;
let path: string;

before(async () => {
  database = await createTestDatabase('sqlite');
  path = (database.config as { path: string }).path;
  // A first start: the secret file and the callback signing secret.
  const services = await createServices(loadConfig({ DATABASE_URL: database.url, LOG_LEVEL: 'silent' }));
  const secret = services.secret;
  await services.close();
  const sealed = createEncryptor(secret).encrypt(JSON.stringify({ url: 'http://127.0.0.1:9/callback' }));
  const handle = await openDatabase(database.config);
  try {
    const endpointId = 'ep_race';
    const now = new Date().toISOString();
    await handle.db
      .insertInto('endpoints')
      .values({
        id: endpointId,
        slug: 'race',
        name: 'Race',
        schema: '{}',
        max_body_bytes: 65536,
        retry_max: 3,
        retry_interval: 60,
        active: 1,
        expires_at: null,
        draft_revision: 1,
        live_version: null,
        created_at: now,
        updated_at: now,
      })
      .execute();
    for (let start = 0; start < SEALED_REQUESTS; start += 1000) {
      await handle.db
        .insertInto('requests')
        .values(
          Array.from({ length: 1000 }, (_, i) => ({
            id: `req_${String(start + i).padStart(8, '0')}`,
            key_id: null,
            endpoint_id: endpointId,
            environment: 'test',
            operation: 'create',
            record_id: `rec_${start + i}`,
            record_version: 1,
            source: 'api',
            payload: '',
            callback: sealed,
            status: 'processed',
            created_at: now,
            processed_at: now,
            record_data: '{}',
          })),
        )
        .execute();
    }
  } finally {
    await handle.close();
  }
});
after(async () => {
  await database.drop();
});

test('a process that starts while the secret is rotated cannot make the rotation lose the new secret', async () => {
  const pending = pendingSecretFileOf(path);
  // As a `gatehouse worker` (or a server with REDIS_URL: no lock keeps either out) starting
  // meanwhile: it loads the installation secret, which finishes or clears a pending rotation.
  let started: Promise<void> | undefined;
  const watcher = watch(dirname(path), (_event, name) => {
    if (started || name !== basename(pending)) return;
    // Once it is there whole (it appears by a rename; the check guards against a partial read).
    try {
      if (!readFileSync(pending, 'utf8').endsWith('\n')) return;
    } catch {
      return;
    }
    started = (async () => {
      const handle = await openDatabase(database.config);
      try {
        await loadInstallationSecret(handle.db, undefined, path);
      } finally {
        await handle.close();
      }
    })();
  });
  let run: Awaited<ReturnType<typeof runGatehouse>>;
  try {
    run = await runGatehouse(
      ['secret', 'rotate', '--yes', '--json'],
      {
        DATABASE_URL: database.url,
        LOG_LEVEL: 'silent',
        GATEHOUSE_SECRET: undefined,
        GATEHOUSE_NEW_SECRET: undefined,
      },
      120_000,
    );
  } finally {
    watcher.close();
  }
  assert.ok(started, 'the other process started while the rotation ran');
  await started;
  // Whatever the rotation answered, the file beside the database opens what is sealed.
  const secret = readFileSync(secretFileOf(path), 'utf8').trim();
  const handle = await openDatabase(database.config);
  try {
    const rows = await handle.db
      .selectFrom('requests')
      .select('callback')
      .where('callback', 'is not', null)
      .limit(3)
      .execute();
    const setting = await handle.db
      .selectFrom('settings')
      .select('value')
      .where('key', '=', 'callback_signing_secret')
      .executeTakeFirstOrThrow();
    const encryptor = createEncryptor(secret);
    for (const sealed of [setting.value, ...rows.map((row) => row.callback as string)])
      assert.doesNotThrow(() => encryptor.decrypt(sealed), `${run.stderr}${run.stdout}`);
  } finally {
    await handle.close();
  }
  assert.equal(run.code, 0, run.stderr || run.stdout);
  assert.equal(existsSync(pending), false);
});
