import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Counters, memoryCounters } from '../src/limits/counters.ts';
import { createRateLimiter, type LimitDecision } from '../src/limits/rate-limiter.ts';
import { period } from '../src/limits/windows.ts';

/**
 * The in-process limiter across window boundaries, with the clock passed in: a minute's count
 * starts again at the next minute while the day and month keep counting, each key counts on
 * its own, and a key without limits of its own gets the installation defaults.
 */
function limiter(defaults = {}) {
  return createRateLimiter({
    counters: {
      minute: memoryCounters('minute'),
      day: memoryCounters('day'),
      month: memoryCounters('month'),
    },
    defaults,
  });
}

function used(
  decision: LimitDecision | Promise<LimitDecision>,
): { outcome: string } & Record<string, unknown> {
  assert.ok(!(decision instanceof Promise), 'in-process counters answer at once');
  if (decision.outcome === 'unavailable') return { outcome: 'unavailable' };
  return {
    outcome: decision.outcome,
    ...Object.fromEntries(decision.windows.map((w) => [w.window, w.used])),
  };
}

// 2026-11-30 23:58:30 UTC: the next minute is 23:59, the one after that a new day.
const t0 = Date.UTC(2026, 10, 30, 23, 58, 30);

test('a minute limit starts again each minute; day and month keep counting', () => {
  const rl = limiter();
  const limits = { per_minute: 2 };
  // [seconds after t0, outcome, minute, day, month used]
  const steps: Array<[number, string, number, number, number]> = [
    [0, 'allowed', 1, 1, 1],
    [1, 'allowed', 2, 2, 2],
    // A refusal charges nothing, and reads only the windows that are limited.
    [2, 'rejected', 2, 0, 0],
    // 23:59:00: a new minute, same day.
    [30, 'allowed', 1, 3, 3],
    // 00:00:00 on Dec 1: a new minute, day and month.
    [90, 'allowed', 1, 1, 1],
    [91, 'allowed', 2, 2, 2],
  ];
  for (const [seconds, outcome, minute, day, month] of steps) {
    assert.deepEqual(used(rl.check('key_a', limits, t0 + seconds * 1000)), { outcome, minute, day, month });
  }
});

test('keys count apart, and a key without limits of its own gets the defaults', () => {
  const rl = limiter({ per_day: 3 });
  for (let n = 1; n <= 3; n++) {
    assert.equal(used(rl.check('key_b', {}, t0 + n)).outcome, 'allowed');
  }
  assert.deepEqual(used(rl.check('key_b', {}, t0 + 10)), {
    outcome: 'rejected',
    minute: 0,
    day: 3,
    month: 0,
  });
  // Its own limit wins over the default; another key is untouched by key_b's count.
  assert.deepEqual(used(rl.check('key_c', { per_day: 5 }, t0 + 11)), {
    outcome: 'allowed',
    minute: 1,
    day: 1,
    month: 1,
  });
  const limits = { per_day: 4 };
  assert.equal(used(rl.check('key_d', limits, t0)).outcome, 'allowed');
  // The same key with other limits (an edit): the new limits apply at once.
  assert.equal(used(rl.check('key_b', { per_day: 10 }, t0 + 12)).outcome, 'allowed');
});

/**
 * Counters shared by two limiters (two processes on one Redis) and answering asynchronously, so
 * that concurrent requests interleave between check and charge as they do over Redis.
 */
function sharedCounters(family: string): Counters {
  const inner = memoryCounters(family);
  const later = () => new Promise((resolve) => setImmediate(resolve));
  return {
    shared: true,
    durable: true,
    get: async (name) => {
      await later();
      return inner.get(name);
    },
    add: async (name, points, ttl) => {
      await later();
      return inner.add(name, points, ttl);
    },
    delete: (name) => inner.delete(name),
  };
}

test('a burst refused in a race names the window that is used up, not one merely near its limit', async () => {
  const counters = {
    minute: sharedCounters('minute'),
    day: sharedCounters('day'),
    month: sharedCounters('month'),
  };
  const processes = [
    createRateLimiter({ counters, defaults: {} }),
    createRateLimiter({ counters, defaults: {} }),
  ];
  const limits = { per_minute: 50, per_month: 80 };
  const decisions = await Promise.all(
    Array.from({ length: 100 }, (_, n) =>
      (processes[n % 2] as (typeof processes)[0]).check('key_r', limits, t0),
    ),
  );
  const refused = decisions.filter((d) => d.outcome === 'rejected');
  assert.equal(decisions.filter((d) => d.outcome === 'allowed').length, 50);
  assert.equal(refused.length, 50);
  // The month has 30 left: every refusal is the minute's, with its reset and a full count.
  for (const d of refused) {
    assert.ok(d.outcome === 'rejected');
    assert.equal(d.window.window, 'minute');
    assert.equal(d.window.used, 50);
  }
  assert.equal(await counters.month.get(`key_r:${period('month', t0).id}`), 50);

  // Both used up: the one that resets last is named (a retry next minute would fail too).
  const tight = { per_minute: 60, per_month: 60 };
  const again = await Promise.all(
    Array.from({ length: 40 }, (_, n) =>
      (processes[n % 2] as (typeof processes)[0]).check('key_s', tight, Date.UTC(2026, 10, 15, 12, 0, 30)),
    ),
  );
  assert.ok(again.every((d) => d.outcome === 'allowed'));
  const more = await Promise.all(
    Array.from({ length: 40 }, (_, n) =>
      (processes[n % 2] as (typeof processes)[0]).check('key_s', tight, Date.UTC(2026, 10, 15, 12, 0, 30)),
    ),
  );
  const late = more.filter((d) => d.outcome === 'rejected');
  assert.equal(late.length, 20);
  for (const d of late) assert.ok(d.outcome === 'rejected' && d.window.window === 'month', JSON.stringify(d));
});

test("a process whose seeding failed lets the next one seed the key's counter: a used-up quota stays used up", async () => {
  const counters = {
    minute: sharedCounters('minute'),
    day: sharedCounters('day'),
    month: sharedCounters('month'),
  };
  // The usage table says 7 were used today (and this month); the first read of the day fails.
  let dayReadFails = true;
  const usedBefore = async (_keyId: string, window: 'day' | 'month') => {
    if (window === 'day' && dayReadFails) {
      dayReadFails = false;
      throw new Error('usage unreadable');
    }
    return 7;
  };
  const a = createRateLimiter({ counters, defaults: {}, usedBefore });
  const b = createRateLimiter({ counters, defaults: {}, usedBefore });
  const limits = { per_day: 8 };
  const now = Date.now();
  await assert.rejects(async () => a.check('key_f', limits, now), /usage unreadable/);
  // Its claim to seed the day went with the failure: the other process seeds it, at once.
  const next = await b.check('key_f', limits, now);
  assert.ok(next.outcome === 'allowed', JSON.stringify(next));
  assert.deepEqual(
    next.windows.map((w) => [w.window, w.used]),
    [
      ['minute', 1],
      ['day', 8],
      ['month', 8],
    ],
  );
  const last = await a.check('key_f', limits, now);
  assert.ok(last.outcome === 'rejected', JSON.stringify(last));
  assert.equal(last.window.window, 'day');
  assert.equal(last.window.used, 8);
});
