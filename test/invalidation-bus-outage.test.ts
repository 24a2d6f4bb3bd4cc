import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { pino } from 'pino';
import type { InvalidationBus } from '../src/infra/bus/bus.ts';
import { redisBus } from '../src/infra/bus/redis-bus.ts';
import { type RedisProxy, redisUrl, startRedisProxy } from './helpers/limits-cluster.ts';
import { capturedLogger } from './helpers/log-lines.ts';
import { until } from './helpers/until.ts';

const UNAVAILABLE =
  'Redis unavailable to the invalidation bus: changes are announced to other processes once it is back (up to 10 queued), and until then any process may serve cached keys, endpoints, apps and tokens for up to the cache TTL (30 s)';
const FULL =
  'Invalidation bus queue full while Redis is unavailable: the oldest messages are dropped, and other processes see those changes once the cache TTL (30 s) ends';
const BACK = 'Redis reachable again for the invalidation bus: 10 queued invalidations sent, 90 dropped';

/**
 * One process's bus reaches Redis through a proxy that the test takes down (connections cut, new
 * ones refused) and brings back; another process's bus stays on Redis. While Redis is away the
 * first one's messages wait in a queue of at most 10 (the oldest dropped), the outage and the full
 * queue are each said once, not per message or reconnect attempt, and once Redis is back the
 * newest 10 reach the other process, and so does what is published after.
 */
describe('the Redis invalidation bus while Redis is away', () => {
  const channel = `reviewops:${randomBytes(6).toString('hex')}:invalidate`;
  const { logger, lines } = capturedLogger('info');
  let proxy: RedisProxy;
  let away: InvalidationBus;
  let other: InvalidationBus;
  const heard: Array<string | undefined> = [];

  before(async () => {
    proxy = await startRedisProxy();
    away = redisBus(proxy.url, channel, { logger, cacheTtlMs: 30_000, maxQueued: 10 });
    other = redisBus(redisUrl, channel, { logger: pino({ level: 'silent' }), cacheTtlMs: 30_000 });
    other.subscribe('keys', (subject) => heard.push(subject));
  });

  after(async () => {
    await away?.close();
    await other?.close();
    await proxy?.close();
  });

  const heardAll = (subjects: string[]) =>
    until(
      async () => heard,
      (seen) => subjects.every((subject) => seen.includes(subject)),
    );

  test('a bounded queue, one warning for the outage and one for the full queue, and messages again once Redis is back', async () => {
    // The other process subscribed (it drops all its cached keys then: no subject), a message
    // gets across.
    await until(
      async () => heard,
      (seen) => seen.includes(undefined),
    );
    away.publish('keys', 'before');
    await heardAll(['before']);
    assert.equal(lines.length, 0, JSON.stringify(lines));

    await proxy.down();
    await until(
      async () => lines,
      (seen) => seen.some((line) => line.msg === UNAVAILABLE),
    );
    heard.length = 0;
    for (let i = 0; i < 100; i++) away.publish('keys', `k${i}`);
    // Reconnect attempts go on meanwhile: still one warning each.
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.deepEqual(
      lines.map((line) => [line.level, line.msg]),
      [
        [40, UNAVAILABLE],
        [40, FULL],
      ],
    );
    assert.equal(heard.length, 0);

    await proxy.up();
    const newest = Array.from({ length: 10 }, (_, i) => `k${90 + i}`);
    await heardAll(newest);
    // Only the newest 10 were kept: the 90 before them were dropped, not sent late.
    assert.deepEqual(heard, newest);
    const back = await until(
      async () => lines.filter((line) => line.msg === BACK),
      (found) => found.length > 0,
    );
    assert.equal(back.length, 1, JSON.stringify(lines));
    assert.equal(back[0]?.level, 30);

    away.publish('keys', 'after');
    await heardAll(['after']);
    assert.deepEqual(heard, [...newest, 'after']);
    // Nothing more was said: one outage, one full queue, one return.
    assert.deepEqual(
      lines.map((line) => line.msg),
      [UNAVAILABLE, FULL, BACK],
    );
  });
});

/** Another process's bus, on Redis itself, and the subjects it heard on `keys` (none: it subscribed). */
function otherProcess(channel: string) {
  const heard: Array<string | undefined> = [];
  const bus = redisBus(redisUrl, channel, { logger: pino({ level: 'silent' }), cacheTtlMs: 30_000 });
  bus.subscribe('keys', (subject) => heard.push(subject));
  const hears = (subject: string | undefined) =>
    until(
      async () => heard,
      (seen) => seen.includes(subject),
    );
  return { bus, heard, hears };
}

/** `sender` reaches the other process: it has subscribed, and a first message got across; then forgotten. */
async function across(sender: InvalidationBus, other: ReturnType<typeof otherProcess>): Promise<void> {
  await other.hears(undefined);
  sender.publish('keys', 'first');
  await other.hears('first');
  other.heard.length = 0;
}

/**
 * Redis up, and more messages at once than it is handed at once (a removed collaborator's keys are
 * revoked together): those past the in-flight cap wait, and none is dropped for the queue's bound,
 * which is for while Redis is away.
 */
describe('the Redis invalidation bus with Redis up', () => {
  const channel = `reviewreview:${randomBytes(6).toString('hex')}:invalidate`;
  const { logger, lines } = capturedLogger('info');
  let sender: InvalidationBus;
  let other: ReturnType<typeof otherProcess>;

  before(() => {
    sender = redisBus(redisUrl, channel, { logger, cacheTtlMs: 30_000, maxQueued: 10 });
    other = otherProcess(channel);
  });

  after(async () => {
    await sender?.close();
    await other?.bus.close();
  });

  test('200 messages published at once all reach the other process, and nothing is said', async () => {
    await across(sender, other);
    const subjects = Array.from({ length: 200 }, (_, i) => `key_${i}`);
    for (const subject of subjects) sender.publish('keys', subject);
    const seen = await until(
      async () => other.heard,
      (got) => got.length >= subjects.length,
    );
    assert.deepEqual([...seen].sort(), [...subjects].sort());
    assert.deepEqual(lines, []);
  });
});

/** Closing the bus (the server stopping) while publishes wait for Redis's answer is no outage. */
describe('the Redis invalidation bus closed with publishes in flight', () => {
  const channel = `reviewclose:${randomBytes(6).toString('hex')}:invalidate`;
  const { logger, lines } = capturedLogger('info');
  let proxy: RedisProxy;
  let other: ReturnType<typeof otherProcess>;

  before(async () => {
    proxy = await startRedisProxy();
    other = otherProcess(channel);
  });

  after(async () => {
    await other?.bus.close();
    await proxy?.close();
  });

  test('no "Redis unavailable" warning when close cuts them short', async () => {
    const closing = redisBus(proxy.url, channel, { logger, cacheTtlMs: 30_000 });
    await across(closing, other);
    // Redis hangs: the next publishes are handed to it and wait for its answer.
    proxy.freeze();
    for (let i = 0; i < 3; i++) closing.publish('keys', `late${i}`);
    await closing.close();
    // The cut publishes are rejected as the connection closes, within a few milliseconds.
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.deepEqual(lines, []);
    proxy.thaw();
  });
});
