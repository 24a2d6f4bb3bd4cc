import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { freePort } from '../bench/lib.ts';
import { buildApp, createServices, type Services } from '../src/app.ts';
import { ConfigError, loadConfig } from '../src/config.ts';
import { createEncryptor, UnsealError } from '../src/infra/crypto/encryption.ts';
import { openDatabase } from '../src/infra/db/database.ts';
import { pendingSecretFileOf, secretFileOf } from '../src/infra/secret-file.ts';
import { createTestDatabase, databaseKinds, type TestDatabase } from './helpers/database.ts';
import { runGatehouse, spawnGatehouse, waitHealthy } from './helpers/process.ts';
import { type Receiver, signedWith, startReceiver } from './helpers/receiver.ts';
import { ordersSchema, TEST_OWNER } from './helpers/server.ts';

const LOOPBACK = { GATEHOUSE_WEBHOOK_ALLOW_NETS: '127.0.0.0/8' };
const OLD = 'the-old-installation-secret-0123456789';
const NEW = 'the-new-installation-secret-9876543210';

interface Booted {
  services: Services;
  call(
    method: string,
    path: string,
    options?: { token?: string; json?: unknown; headers?: Record<string, string> },
    // biome-ignore lint/suspicious/noExplicitAny: test assertions walk arbitrary JSON
  ): Promise<{ status: number; body: any; text: string }>;
  stop(): Promise<void>;
}

/** A server with its webhook worker over `database`, in this process. */
async function boot(database: TestDatabase, env: Record<string, string> = {}): Promise<Booted> {
  const services = await createServices(
    loadConfig({ DATABASE_URL: database.url, LOG_LEVEL: 'silent', ...LOOPBACK, ...env }),
  );
  const app = buildApp(services, { logger: false });
  const worker = services.webhooks.createWorker();
  worker.start();
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  return {
    services,
    async call(method, path, options = {}) {
      const headers: Record<string, string> = { ...options.headers };
      if (options.token) headers.authorization = `Bearer ${options.token}`;
      if (options.json !== undefined) headers['content-type'] = 'application/json';
      const res = await fetch(`${url}${path}`, {
        method,
        headers,
        body: options.json === undefined ? undefined : JSON.stringify(options.json),
      });
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : undefined, text };
    },
    async stop() {
      await app.close();
      await worker.stop();
      await services.close();
    },
  };
}

/** Every value sealed with the installation secret, by where it is kept. */
async function sealedValues(database: TestDatabase): Promise<Record<string, string>> {
  const handle = await openDatabase(database.config);
  try {
    const { db } = handle;
    const found: Record<string, string> = {};
    for (const row of await db
      .selectFrom('settings')
      .select(['key', 'value'])
      .where('key', 'in', ['callback_signing_secret', 'jwt_signing_keys'])
      .execute())
      found[`settings.${row.key}`] = row.value;
    for (const row of await db
      .selectFrom('webhook_subscriptions')
      .select(['id', 'secret', 'previous_secret'])
      .execute()) {
      found[`subscription.${row.id}.secret`] = row.secret;
      if (row.previous_secret) found[`subscription.${row.id}.previous`] = row.previous_secret;
    }
    for (const row of await db
      .selectFrom('requests')
      .select(['id', 'callback'])
      .where('callback', 'is not', null)
      .execute())
      found[`request.${row.id}`] = row.callback as string;
    for (const row of await db
      .selectFrom('webhook_deliveries')
      .select(['id', 'auth'])
      .where('auth', 'is not', null)
      .execute())
      found[`delivery.${row.id}`] = row.auth as string;
    return found;
  } finally {
    await handle.close();
  }
}

async function setSealed(database: TestDatabase, deliveryId: string, auth: string): Promise<void> {
  const handle = await openDatabase(database.config);
  try {
    await handle.db.updateTable('webhook_deliveries').set({ auth }).where('id', '=', deliveryId).execute();
  } finally {
    await handle.close();
  }
}

function opensAll(secret: string, values: Record<string, string>): boolean[] {
  const encryptor = createEncryptor(secret);
  return Object.values(values).map((sealed) => {
    try {
      encryptor.decrypt(sealed);
      return true;
    } catch (error) {
      if (error instanceof UnsealError) return false;
      throw error;
    }
  });
}

/** Only `next` opens the sealed values now, `previous` none. */
function onlyNewOpens(previous: string, next: string, values: Record<string, string>): void {
  assert.deepEqual(
    opensAll(previous, values),
    Object.keys(values).map(() => false),
  );
  assert.deepEqual(
    opensAll(next, values),
    Object.keys(values).map(() => true),
  );
}

/**
 * After the rotation, `server` (then stopped) signs a new record's webhook with the subscription's
 * same secret, and a token minted before still works (the signing keys were sealed again, not replaced).
 */
async function signsAsBefore(
  server: Booted,
  populated: Awaited<ReturnType<typeof populate>>,
  receiver: Receiver,
): Promise<void> {
  try {
    receiver.received.length = 0;
    const write = await server.call('POST', '/api/v1/data/orders', {
      token: populated.key,
      json: { order_id: 'ORD-3', amount: 3 },
    });
    assert.equal(write.status, 202, write.text);
    const [webhook] = await receiver.waitFor(1);
    assert.equal(signedWith(populated.webhookSecret, webhook as never), true);
    const read = await server.call('GET', '/api/v1/data/orders', { token: populated.jwt });
    assert.equal(read.status, 200, read.text);
  } finally {
    await server.stop();
  }
}

/**
 * An installation with something in every place a value is sealed: a subscription whose secret
 * was rotated (current and previous), a write with a per-request callback (its request and its
 * delivery), the callback signing secret and the JWT signing keys (a token minted).
 */
async function populate(server: Booted, receiver: Receiver) {
  const { token } = await server.services.owners.init(TEST_OWNER);
  const admin = (method: string, path: string, json?: unknown) => server.call(method, path, { token, json });
  assert.equal(
    (await admin('POST', '/admin/v1/endpoints', { slug: 'orders', name: 'Orders', schema: ordersSchema }))
      .status,
    201,
  );
  const created = await admin('POST', '/admin/v1/keys', { name: 'partner', environment: 'test' });
  const key = created.body.data.key as string;
  const keyId = created.body.data.id as string;
  const sub = await admin('POST', '/admin/v1/endpoints/orders/webhooks', {
    url: receiver.url,
    environment: 'test',
    events: ['record.created'],
  });
  assert.equal(sub.status, 201, sub.text);
  const rotated = await admin('POST', `/admin/v1/webhooks/${sub.body.data.id}/rotate-secret`);
  assert.equal(rotated.status, 200, rotated.text);
  const callbackSecret = (await admin('GET', `/admin/v1/keys/${keyId}/callback-signing-secret`)).body.data
    .secret as string;
  const write = await server.call('POST', '/api/v1/data/orders', {
    token: key,
    json: { order_id: 'ORD-1', amount: 1 },
    headers: { 'x-webhook-callback': `${receiver.url}/callback` },
  });
  assert.equal(write.status, 202, write.text);
  await receiver.waitFor(2);
  const minted = await server.call('POST', '/api/v1/tokens', { token: key, json: {} });
  assert.equal(minted.status, 201, minted.text);
  return {
    key,
    jwt: minted.body.data.token as string,
    webhookSecret: rotated.body.data.secret as string,
    callbackSecret,
  };
}

function rotate(
  database: TestDatabase,
  env: Record<string, string | undefined> = {},
  args = ['--yes', '--json'],
) {
  return runGatehouse(
    ['secret', 'rotate', ...args],
    {
      DATABASE_URL: database.url,
      LOG_LEVEL: 'silent',
      GATEHOUSE_SECRET: undefined,
      GATEHOUSE_NEW_SECRET: undefined,
      ...env,
    },
    60_000,
  );
}

describe('gatehouse secret rotate (SQLite file, the generated <database>.secret)', () => {
  let database: TestDatabase;
  let receiver: Receiver;
  let file: string;
  let populated: Awaited<ReturnType<typeof populate>>;
  let before_: Record<string, string>;
  let oldSecret: string;
  let spawned: ChildProcess | undefined;

  before(async () => {
    database = await createTestDatabase('sqlite');
    file = secretFileOf((database.config as { path: string }).path);
    receiver = await startReceiver();
    const server = await boot(database);
    populated = await populate(server, receiver);
    await server.stop();
    oldSecret = readFileSync(file, 'utf8').trim();
    before_ = await sealedValues(database);
    assert.deepEqual(
      Object.keys(before_)
        .map((k) => k.split('.')[0])
        .sort(),
      ['delivery', 'request', 'settings', 'settings', 'subscription', 'subscription'],
    );
  });
  after(async () => {
    spawned?.kill('SIGKILL');
    await receiver.close();
    await database.drop();
  });

  /** Nothing changed: the same sealed values, the same secret file, no new one left beside it. */
  async function unchanged() {
    assert.deepEqual(await sealedValues(database), before_);
    assert.equal(readFileSync(file, 'utf8').trim(), oldSecret);
    assert.equal(existsSync(pendingSecretFileOf((database.config as { path: string }).path)), false);
  }

  test('a missing secret file is refused clearly, and nothing changes', async () => {
    renameSync(file, `${file}.away`);
    try {
      const run = await rotate(database);
      assert.equal(run.code, 1);
      const out = JSON.parse(run.stdout);
      assert.equal(out.code, 'config_error');
      assert.match(out.error, /installation secret is missing/);
      assert.equal(existsSync(file), false, 'no new secret file was made');
    } finally {
      renameSync(`${file}.away`, file);
    }
    await unchanged();
  });

  test('a wrong current secret (GATEHOUSE_SECRET) is refused clearly, and nothing changes', async () => {
    const run = await rotate(database, { GATEHOUSE_SECRET: OLD, GATEHOUSE_NEW_SECRET: NEW });
    assert.equal(run.code, 1);
    const out = JSON.parse(run.stdout);
    assert.equal(out.code, 'config_error');
    assert.match(
      out.error,
      /callback_signing_secret does not open with the current installation secret: nothing was changed/,
    );
    await unchanged();
  });

  test('without --yes and no terminal it asks for it and does nothing; a too short new secret is refused', async () => {
    const asked = await rotate(database, {}, ['--json']);
    assert.equal(asked.code, 1);
    assert.equal(JSON.parse(asked.stdout).code, 'cli_not_confirmed');
    const short = await rotate(database, { GATEHOUSE_NEW_SECRET: 'short' });
    assert.equal(short.code, 1);
    assert.match(JSON.parse(short.stdout).error, /GATEHOUSE_NEW_SECRET is too short/);
    await unchanged();
  });

  test('a value that does not open, met midway, leaves everything as it was', async () => {
    const [delivery, good] = Object.entries(before_).find(([k]) => k.startsWith('delivery.')) as [
      string,
      string,
    ];
    const id = delivery.slice('delivery.'.length);
    // Sealed with another secret: the settings, subscriptions and requests before it were already
    // sealed again inside the transaction when it is met.
    await setSealed(database, id, createEncryptor(NEW).encrypt('{"name":"x","value":"y"}'));
    try {
      const run = await rotate(database);
      assert.equal(run.code, 1);
      assert.match(JSON.parse(run.stdout).error, new RegExp(`webhook delivery ${id} does not open`));
      const now = await sealedValues(database);
      assert.deepEqual({ ...now, [delivery]: good }, before_);
    } finally {
      await setSealed(database, id, good);
    }
    await unchanged();
  });

  test('while a server runs on the file it is refused, and nothing changes', async () => {
    const port = await freePort();
    spawned = spawnGatehouse(['serve'], {
      DATABASE_URL: database.url,
      LOG_LEVEL: 'silent',
      PORT: String(port),
    });
    try {
      await waitHealthy(port);
      const run = await rotate(database);
      assert.equal(run.code, 1);
      const out = JSON.parse(run.stdout);
      assert.equal(out.code, 'cli_error');
      assert.match(out.error, /A Gatehouse server is running on .*stop it/);
    } finally {
      const child = spawned;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
      spawned = undefined;
    }
    await unchanged();
  });

  test('rotated: every value sealed again, the file replaced (0600), the old secret opens nothing, the server starts and signs as before', async () => {
    const run = await rotate(database);
    assert.equal(run.code, 0, run.stdout + run.stderr);
    const out = JSON.parse(run.stdout);
    assert.equal(out.data.secret_source, 'file');
    assert.deepEqual(out.data.resealed, {
      settings: 2,
      webhook_subscriptions: 1,
      requests: 1,
      webhook_deliveries: 1,
    });
    const newSecret = readFileSync(file, 'utf8').trim();
    assert.notEqual(newSecret, oldSecret);
    assert.ok(newSecret.length >= 32);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.equal(existsSync(pendingSecretFileOf((database.config as { path: string }).path)), false);
    assert.ok(!run.stdout.includes(newSecret), 'the new secret is not printed');
    const after_ = await sealedValues(database);
    assert.deepEqual(Object.keys(after_), Object.keys(before_));
    for (const k of Object.keys(after_)) assert.notEqual(after_[k], before_[k], k);
    onlyNewOpens(oldSecret, newSecret, after_);
    // The same plain values inside.
    const plain = (secret: string, values: Record<string, string>) =>
      Object.values(values).map((v) => createEncryptor(secret).decrypt(v));
    assert.deepEqual(plain(newSecret, after_), plain(oldSecret, before_));

    // A start with the old secret is refused.
    await assert.rejects(boot(database, { GATEHOUSE_SECRET: oldSecret }), ConfigError);

    const server = await boot(database);
    try {
      receiver.received.length = 0;
      // The subscription signs with the same webhook secret; the key's callbacks with the same one.
      const write = await server.call('POST', '/api/v1/data/orders', {
        token: populated.key,
        json: { order_id: 'ORD-2', amount: 2 },
        headers: { 'x-webhook-callback': `${receiver.url}/callback` },
      });
      assert.equal(write.status, 202, write.text);
      const got = await receiver.waitFor(2);
      const webhook = got.find((r) => !r.url.endsWith('/callback'));
      const callback = got.find((r) => r.url.endsWith('/callback'));
      assert.ok(webhook && callback);
      assert.equal(signedWith(populated.webhookSecret, webhook as never), true);
      assert.equal(signedWith(populated.callbackSecret, callback as never), true);
      // A token minted before still works until it expires (the signing keys were sealed again, not replaced).
      const read = await server.call('GET', '/api/v1/data/orders', { token: populated.jwt });
      assert.equal(read.status, 200, read.text);
    } finally {
      await server.stop();
    }
  });

  test('cut off after its commit, before the file was replaced: the next start finishes it; a rotation that never committed leaves the file', async () => {
    const path = (database.config as { path: string }).path;
    const previous = readFileSync(file, 'utf8').trim();
    const run = await rotate(database);
    assert.equal(run.code, 0, run.stdout + run.stderr);
    const current = readFileSync(file, 'utf8').trim();
    assert.notEqual(current, previous);
    // As a rotation cut off between commit and rename leaves it: the old file, the new one beside it.
    writeFileSync(file, `${previous}\n`, { mode: 0o600 });
    writeFileSync(pendingSecretFileOf(path), `${current}\n`, { mode: 0o600 });
    let server = await boot(database);
    await server.stop();
    assert.equal(readFileSync(file, 'utf8').trim(), current);
    assert.equal(existsSync(pendingSecretFileOf(path)), false);
    // One that never committed: its new secret opens nothing, and goes.
    writeFileSync(pendingSecretFileOf(path), `${NEW}\n`, { mode: 0o600 });
    server = await boot(database);
    await server.stop();
    assert.equal(readFileSync(file, 'utf8').trim(), current);
    assert.equal(existsSync(pendingSecretFileOf(path)), false);
  });
});

for (const kind of databaseKinds) {
  describe(`gatehouse secret rotate with GATEHOUSE_SECRET (${kind})`, () => {
    let database: TestDatabase;
    let receiver: Receiver;
    let populated: Awaited<ReturnType<typeof populate>>;
    let before_: Record<string, string>;

    before(async () => {
      database = await createTestDatabase(kind);
      receiver = await startReceiver();
      const server = await boot(database, { GATEHOUSE_SECRET: OLD });
      populated = await populate(server, receiver);
      await server.stop();
      before_ = await sealedValues(database);
    });
    after(async () => {
      await receiver.close();
      await database.drop();
    });

    test('without GATEHOUSE_NEW_SECRET it says to set one, and nothing changes', async () => {
      const run = await rotate(database, { GATEHOUSE_SECRET: OLD });
      assert.equal(run.code, 1);
      assert.match(JSON.parse(run.stdout).error, /set GATEHOUSE_NEW_SECRET/);
      assert.deepEqual(await sealedValues(database), before_);
      if (kind === 'sqlite')
        assert.equal(existsSync(secretFileOf((database.config as { path: string }).path)), false);
    });

    test('with GATEHOUSE_NEW_SECRET: sealed again with it, the next start needs it as GATEHOUSE_SECRET', async () => {
      const run = await rotate(database, { GATEHOUSE_SECRET: OLD, GATEHOUSE_NEW_SECRET: NEW }, ['--yes']);
      assert.equal(run.code, 0, run.stdout + run.stderr);
      assert.match(run.stdout, /Set GATEHOUSE_SECRET to the value of GATEHOUSE_NEW_SECRET/);
      assert.ok(!run.stdout.includes(NEW));
      const after_ = await sealedValues(database);
      onlyNewOpens(OLD, NEW, after_);
      if (kind === 'sqlite')
        assert.equal(existsSync(secretFileOf((database.config as { path: string }).path)), false);
      await assert.rejects(
        boot(database, { GATEHOUSE_SECRET: OLD }),
        /not the secret this installation was set up with/,
      );
      await signsAsBefore(await boot(database, { GATEHOUSE_SECRET: NEW }), populated, receiver);
    });
  });
}

if (databaseKinds.includes('postgres')) {
  describe('gatehouse secret rotate with the secret kept in the database (postgres, no GATEHOUSE_SECRET)', () => {
    let database: TestDatabase;
    let receiver: Receiver;
    after(async () => {
      await receiver?.close();
      await database?.drop();
    });

    test('the secret in the settings is replaced in the same transaction; the next start opens everything with it', async () => {
      database = await createTestDatabase('postgres');
      receiver = await startReceiver();
      const server = await boot(database);
      const populated = await populate(server, receiver);
      await server.stop();
      const stored = async () => {
        const handle = await openDatabase(database.config);
        try {
          return (
            await handle.db
              .selectFrom('settings')
              .select('value')
              .where('key', '=', 'secret')
              .executeTakeFirstOrThrow()
          ).value;
        } finally {
          await handle.close();
        }
      };
      const old = await stored();
      const run = await rotate(database);
      assert.equal(run.code, 0, run.stdout + run.stderr);
      assert.equal(JSON.parse(run.stdout).data.secret_source, 'database');
      const next = await stored();
      assert.notEqual(next, old);
      const sealed = await sealedValues(database);
      onlyNewOpens(old, next, sealed);
      await signsAsBefore(await boot(database), populated, receiver);
    });
  });
}
